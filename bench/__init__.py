"""Measurements that are not tests: run one module's ``run()``."""
