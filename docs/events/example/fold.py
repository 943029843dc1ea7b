#!/usr/bin/env python3
"""Fold an exported account history (JSON lines) into who holds which device.

    curl -sS -H "Authorization: Bearer $TOKEN" \
      "$URL/v1/audit/account/$ACCOUNT?format=jsonl&limit=500" | python3 fold.py

Each line is one stored event with its type, version and data (docs/events/
has the schema of each). The fold reads what it needs and ignores the rest,
so it keeps working as event types are added. It reads every version it
knows: PartnerRequested before version 3 has no requesterType, which is the
counterpart of the partner's type.
"""
import json
import sys

COUNTERPART = {"rental": "contractor", "subcontractor": "contractor", "contractor": "subcontractor"}


def fold(lines):
    owner = {}        # device -> owning account
    shared = {}       # device -> set of partner accounts using it
    partners = {}     # partnership -> {"state": ..., "types": {account: what the other is to it}}
    deleted = set()
    for line in lines:
        line = line.strip()
        if not line:
            continue
        e = json.loads(line)
        t, v, d = e["type"], e["version"], e["data"]
        if t == "DeviceRegistered":
            owner[d["device"]] = d["owner"]
        elif t == "DeviceDeleted":
            deleted.add(d["device"])
        elif t == "DeviceSharedWithPartner":
            shared.setdefault(d["device"], set()).add(d["partner"])
        elif t == "DeviceUnsharedFromPartner":
            shared.get(d["device"], set()).discard(d["partner"])
        elif t == "PartnerRequested":
            theirs = d["type"]
            mine = d["requesterType"] if v >= 3 else COUNTERPART[theirs]
            partners[d["partnership"]] = {"state": "pending", "types": {d["requester"]: theirs, d["partner"]: mine}}
        elif t in ("PartnerApproved", "PartnerDeclined", "PartnerRequestWithdrawn", "PartnershipEnded"):
            state = {"PartnerApproved": "approved", "PartnerDeclined": "declined",
                     "PartnerRequestWithdrawn": "withdrawn", "PartnershipEnded": "ended"}[t]
            partners.setdefault(d["partnership"], {"types": {}})["state"] = state
    devices = {dev: {"owner": acc, "sharedWith": sorted(shared.get(dev, ())), "deleted": dev in deleted}
               for dev, acc in owner.items()}
    return {"devices": devices, "partnerships": partners}


if __name__ == "__main__":
    json.dump(fold(sys.stdin), sys.stdout, indent=2, sort_keys=True)
    print()
