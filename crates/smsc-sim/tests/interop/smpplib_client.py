"""Third-party interop check: python-smpplib against `tuma smsc`.

Usage: smpplib_client.py HOST PORT
Binds as a transceiver, submits one GSM-7 message and one long UCS-2 message with emoji (split by
smpplib itself into UDH parts), waits for a delivery receipt for every part, unbinds, and prints
one JSON object on stdout: {"submitted": [...message ids...], "receipts": [{"id", "stat"}...]}.
Exits non-zero (with the reason on stderr) on any protocol error or timeout.
"""
import json
import re
import socket
import sys
import time

import smpplib.client
import smpplib.consts
import smpplib.gsm

GSM_TEXT = "Habari! Your code is 123456. Cost: 10 KES [promo] {ok} ~ 100€"
UCS2_TEXT = ("Karibu 😀 tuma inatuma ujumbe mrefu sana 🚀🎉 " * 4).strip()


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    client = smpplib.client.Client(host, port, timeout=10, allow_unknown_opt_params=True)
    submitted = []
    receipts = []

    def on_sent(pdu):
        if pdu.status != 0:
            raise SystemExit("submit_sm_resp status %d" % pdu.status)
        mid = pdu.message_id.decode() if isinstance(pdu.message_id, bytes) else pdu.message_id
        submitted.append(mid)

    def on_received(pdu):
        text = pdu.short_message or b""
        if pdu.esm_class & 0x3C == 0x04:  # delivery receipt
            m_id = re.search(rb"id:(\S+)", text)
            m_stat = re.search(rb"stat:(\S+)", text)
            receipts.append({
                "id": m_id.group(1).decode() if m_id else None,
                "stat": m_stat.group(1).decode() if m_stat else None,
            })
        return 0

    client.set_message_sent_handler(on_sent)
    client.set_message_received_handler(on_received)
    client.connect()
    client.bind_transceiver(system_id="smpplib", password="secret")

    total_parts = 0
    for text in (GSM_TEXT, UCS2_TEXT):
        parts, encoding, esm_class = smpplib.gsm.make_parts(text)
        for part in parts:
            client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
                source_addr="PYTHON",
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                destination_addr="254700000100",  # reserved test range: delivered at once
                short_message=part,
                data_coding=encoding,
                esm_class=esm_class,
                registered_delivery=True,
            )
            total_parts += 1

    deadline = time.time() + 20
    client._socket.settimeout(1)
    while (len(submitted) < total_parts or len(receipts) < total_parts) and time.time() < deadline:
        try:
            client.read_once(auto_send_enquire_link=False)
        except socket.timeout:
            continue
    if len(submitted) < total_parts or len(receipts) < total_parts:
        raise SystemExit("timed out: %d/%d responses, %d/%d receipts"
                         % (len(submitted), total_parts, len(receipts), total_parts))
    client.unbind()
    client.disconnect()
    print(json.dumps({"submitted": submitted, "receipts": receipts,
                      "texts": [GSM_TEXT, UCS2_TEXT]}, ensure_ascii=False))


if __name__ == "__main__":
    main()
