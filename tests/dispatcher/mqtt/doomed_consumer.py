"""A consumer the redelivery test SIGKILLs: process death with messages received, some acked.

``python -m tests.dispatcher.mqtt.doomed_consumer URL CLIENT_ID DEVICE EXPECTED ACKED``: takes
EXPECTED messages from ``hyt/v1/d/DEVICE/evt/+``, acks the first ACKED, makes sure the broker has
processed those acks (a loop-back publish on the same connection, which the broker handles after
them), prints ``acked`` and waits to be killed.
"""

from __future__ import annotations

import asyncio
import sys

from dispatcher.mqtt import Inbound, MqttIngestClient


async def main(url: str, client_id: str, device: str, expected: int, acked: int) -> None:
    async with MqttIngestClient(
        url,
        client_id=client_id,
        filters=[f"hyt/v1/d/{device}/evt/+"],
        shared_group=None,
        session_expiry_s=120,
    ) as client:
        print("ready", flush=True)
        got: list[Inbound] = []
        while len(got) < expected:
            got += await client.next_batch(expected, 0.05)
        for msg in got[:acked]:
            client.ack(msg)
        await asyncio.sleep(0)  # the acks leave at the end of a loop iteration
        client.publish(f"hyt/v1/d/{device}/evt/sync", b"sync", qos=1)
        while not any(m.topic.endswith("/sync") for m in got):
            got += await client.next_batch(10, 0.05)
        print("acked", flush=True)
        await asyncio.sleep(3600)


if __name__ == "__main__":
    url, client_id, device, expected, acked = sys.argv[1:6]
    asyncio.run(main(url, client_id, device, int(expected), int(acked)))
