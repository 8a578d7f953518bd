"""How many requests planning makes for one record and for 21 (past the targeted-read limit, so
the org is listed), in an org of N users whose all-staff group has up to 2,000 members.

::

    .venv/bin/python benchmarks/plan_reads.py 10000
"""

from __future__ import annotations

import sys

from okta_lifecycle import Policy
from okta_lifecycle.testing import OktaSimulator

n = int(sys.argv[1])
policy = Policy.from_dict(
    {
        "name": "p",
        "source": {"format": "jsonl", "key": "login"},
        "attributes": {"login": "{login}", "email": "{login}", "firstName": "{first}", "lastName": "{last}"},
        "workflow": [
            {
                "name": "w",
                "when": 'status eq "active"',
                "actions": [
                    {"action": "sync_identities"},
                    {"action": "create_entitlement", "name": "all-staff"},
                    {"action": "manage_relationships", "groups": ["all-staff"]},
                ],
            }
        ],
    }
)


def rec(i):
    return {"login": f"user{i}@example.com", "first": "F", "last": "L", "status": "active"}


with OktaSimulator(seed_users=n) as sim:
    with sim.client() as client:
        g = client.groups.create("all-staff")
        for i in range(1, min(n, 2000) + 1):
            client.groups.add_member(g.id, f"user{i}@example.com")
        for count in (1, 21):
            sim.clear_requests()
            client.plan(policy, [rec(i) for i in range(1, count + 1)])
            members = min(n, 2000)
            print(f"{n} users, {members} in all-staff: plan of {count} record(s): {len(sim.requests())} requests")
