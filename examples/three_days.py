"""The three-day example through the Python library instead of the command line.

Run: .venv/bin/python examples/three_days.py   (after scripts/demo or scripts/test built the package)
"""

from pathlib import Path

from okta_lifecycle import Policy
from okta_lifecycle.testing import OktaSimulator

EXAMPLES = Path(__file__).parent


def main() -> None:
    policy = Policy.from_file(EXAMPLES / "policy.toml")
    with OktaSimulator() as simulator:
        client = simulator.client()
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
        leaver = client.users.get("donald.knuth@acme.example")
        print(f"{leaver.login} is {leaver.status}; history:")
        for entry in client.history(leaver.login):
            print(f"  {entry['updated_at']} {entry['action']:<22} {entry['operation']:<16} {entry['status']}")


if __name__ == "__main__":
    main()
