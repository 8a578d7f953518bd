"""The three-day example through the Python library instead of the command line.

The simulated org first gets a typed custom attribute, ``costCode`` (an integer), which the
policy fills from the export's ``cost_code`` column: the CSV's text reaches Okta as a number.
Elena García works in IT support, so the policy makes her a help-desk administrator; she leaves
on day 3, and her role goes with the rest of her access.

Run: .venv/bin/python examples/three_days.py   (after scripts/demo or scripts/test built the package)
"""

from pathlib import Path

from okta_lifecycle import Policy
from okta_lifecycle.testing import OktaSimulator

EXAMPLES = Path(__file__).parent


TITLE_RULE = 'title          = "{job_title | TITLE}"'
LEAVER = "elena.garcía@acme.example"


def main() -> None:
    text = (EXAMPLES / "policy.toml").read_text(encoding="utf-8")
    policy = Policy.from_toml(text.replace(TITLE_RULE, TITLE_RULE + '\ncostCode       = "{cost_code}"'))
    with OktaSimulator() as simulator:
        client = simulator.client()
        client.schema.update_custom({"costCode": {"title": "Cost code", "type": "integer"}})
        for day in (1, 2, 3):
            plan = client.plan(policy, EXAMPLES / "hr" / f"day{day}.csv")
            summary = plan.summary
            print(
                f"day {day}: {len(plan)} changes, {summary['joiners']} joiners, {summary['movers']} movers, "
                f"{summary['leavers']} leavers, {len(plan.issues)} records with issues"
            )
            report = client.apply(plan)
            print(f"       applied: {report.counts}")
            assert client.plan(policy, EXAMPLES / "hr" / f"day{day}.csv").is_empty
        leaver = client.users.get(LEAVER)
        print(f"{leaver.login} is {leaver.status}, cost code {leaver.profile['costCode']!r}; history:")
        for entry in client.history(leaver.login):
            print(f"  {entry['updated_at']} {entry['action']:<22} {entry['operation']:<16} {entry['status']}")
        for snapshot in client.snapshots(leaver.login):
            roles = [role["role_type"] for role in snapshot["roles"]]
            print(f"  recorded before deprovisioning: groups {[name for _, name in snapshot['groups']]}, roles {roles}")
        assert client.roles.list(user=leaver) == [], "a deprovisioned admin keeps no admin role"


if __name__ == "__main__":
    main()
