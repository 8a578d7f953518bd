"""A test suite written the way an identity team would write one with the pytest plugin.

Nothing here imports a simulator by hand: the ``okta_simulator`` and ``okta_client`` fixtures come
from okta-lifecycle's pytest plugin, and the marker sets up the org.
"""

import pytest

from okta_lifecycle import OktaClient, Policy
from okta_lifecycle.testing import OktaSimulator

POLICY = Policy.from_dict(
    {
        "name": "onboarding",
        "source": {"format": "jsonl", "key": "employee_id", "match_on": "employeeNumber"},
        "attributes": {
            "login": "{email | LOWER}",
            "email": "{email | LOWER}",
            "firstName": "{first}",
            "lastName": "{last}",
            "employeeNumber": "{employee_id}",
            "department": "{department}",
        },
        "workflow": [
            {
                "name": "joiner",
                "when": 'status eq "active"',
                "actions": [
                    {"action": "sync_identities"},
                    {"action": "create_entitlement", "name": "dept-{department | LOWER}"},
                    {
                        "action": "manage_relationships",
                        "groups": ["dept-{department | LOWER}"],
                        "exclusive_prefix": "dept-",
                    },
                ],
            },
            {"name": "leaver", "when": 'status eq "terminated"', "actions": [{"action": "deprovision_identity"}]},
        ],
    }
)


def hr(status: str = "active", department: str = "Engineering") -> list[dict[str, str]]:
    return [
        {"employee_id": "E1", "email": "Ada@Acme.example", "first": "Ada", "last": "Lovelace",
         "department": department, "status": status},
    ]


def test_a_new_hire_gets_an_account_and_a_department_group(okta_client: OktaClient) -> None:
    report = okta_client.apply(okta_client.plan(POLICY, hr()))
    assert report.is_success
    ada = okta_client.users.get("ada@acme.example")
    assert ada.profile["department"] == "Engineering"
    group = okta_client.groups.find("dept-engineering")
    assert group is not None
    assert [member.login for member in okta_client.groups.members(group)] == ["ada@acme.example"]


def test_a_department_change_moves_the_group_membership(okta_client: OktaClient) -> None:
    okta_client.apply(okta_client.plan(POLICY, hr()))
    plan = okta_client.plan(POLICY, hr(department="Sales"))
    assert plan.summary["movers"] == 0, "department is not declared as a mover attribute in this policy"
    okta_client.apply(plan)
    groups = {group.name for group in okta_client.users.groups("ada@acme.example")}
    assert groups == {"Everyone", "dept-sales"}


def test_a_leaver_is_deprovisioned_and_their_history_kept(
    okta_client: OktaClient, okta_simulator: OktaSimulator
) -> None:
    okta_client.apply(okta_client.plan(POLICY, hr()))
    user_id = okta_client.users.get("ada@acme.example").id
    okta_simulator.create_session(user_id)
    okta_client.apply(okta_client.plan(POLICY, hr(status="terminated")))
    assert okta_client.users.get(user_id).status == "DEPROVISIONED"
    assert okta_simulator.sessions(user_id) == 0
    snapshot = okta_client.snapshots("ada@acme.example")[-1]
    assert [name for _, name in snapshot["groups"] if name != "Everyone"] == ["dept-engineering"]


@pytest.mark.okta_simulator(seed_users=250, latency_ms=2)
def test_the_marker_configures_the_org(okta_client: OktaClient, okta_simulator: OktaSimulator) -> None:
    assert sum(1 for _ in okta_client.users.list(limit=100)) == 250
    listing_pages = [r for r in okta_simulator.requests() if r["path"] == "/api/v1/users"]
    assert len(listing_pages) == 3


@pytest.mark.okta_simulator(seed_users=1, faults={"503": 0.3, "seed": 7})
def test_reads_survive_okta_hiccups(okta_client: OktaClient, okta_simulator: OktaSimulator) -> None:
    for _ in range(20):
        assert okta_client.users.get("user1@example.com").login == "user1@example.com"
    assert okta_simulator.counters()["by_status"].get(503, 0) > 0, "faults were injected and absorbed"
