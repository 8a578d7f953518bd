"""Writes the example HR exports: three consecutive days of a 50-person company.

Day 1: everyone active (one record without an email, two people sharing an email); Elena García
works in IT support, which makes her a help-desk administrator.
Day 2: two joiners; movers change department and title.
Day 3: three leavers are terminated (Elena among them: her admin role goes too); one more mover.
Every record carries a numeric cost code, for the typed custom attribute of three_days.py/.rs.
Run: python examples/hr/generate.py (the CSVs are committed; this documents how they were made).
"""

import csv
from pathlib import Path

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Katherine", "Linus",
         "Margaret", "Niklaus", "Radia", "Ken", "Sophie", "Tim", "Zoë", "Ångström", "José", "Chloé",
         "Dennis", "Hedy", "Ivan", "Jean", "Karen", "Leslie", "Mary", "Noam", "Ole", "Peter",
         "Quentin", "Rosalind", "Shafi", "Tony", "Ursula", "Vint", "Whitfield", "Xiaoyun", "Yukihiro", "Zhores",
         "Anita", "Bjarne", "Carol", "David", "Elena", "Fran", "Guido", "Hal", "Ines", "Jim"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Backus", "Johnson", "Torvalds",
        "Hamilton", "Wirth", "Perlman", "Thompson", "Wilson", "Berners-Lee", "Brontë", "Ærø", "Núñez", "Dubois",
        "Ritchie", "Lamarr", "Sutherland", "Sammet", "Spärck Jones", "Lamport", "Keller", "Chomsky", "Dahl", "Naur",
        "Tarantino", "Franklin", "Goldwasser", "Hoare", "Le Guin", "Cerf", "Diffie", "Wang", "Matsumoto", "Alferov",
        "Borg", "Stroustrup", "Shaw", "Patterson", "García", "O'Neil", "van Rossum", "Abelson", "Müller", "Gray"]
DEPARTMENTS = ["Engineering", "Sales", "Finance", "People Operations", "Research & Development"]
TITLES = ["engineer", "senior engineer", "account executive", "analyst", "manager"]


def person(index: int) -> dict[str, str]:
    first, last = FIRST[index], LAST[index]
    local = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
    return {
        "employee_id": f"E{1000 + index}",
        "first_name": f" {first} " if index % 7 == 0 else first,
        "last_name": last,
        "work_email": f"{local}@acme.example".title() if index % 5 == 0 else f"{local}@acme.example",
        "department": DEPARTMENTS[index % len(DEPARTMENTS)],
        "job_title": TITLES[index % len(TITLES)],
        "status": "Active",
        "start_date": f"2024-{1 + index % 12:02d}-{1 + index % 28:02d}",
        "cost_code": str(4100 + (index % 4) * 100),
    }


def day1() -> list[dict[str, str]]:
    people = [person(i) for i in range(48)]
    people[12]["work_email"] = ""                              # a record with a missing email
    people[31]["work_email"] = people[30]["work_email"]        # two people sharing one email
    people[44]["job_title"] = "IT support"                     # a help-desk administrator
    return people


def day2() -> list[dict[str, str]]:
    people = day1()
    for index in (3, 8, 21):                                   # movers: department and title change
        people[index]["department"] = "Engineering" if people[index]["department"] != "Engineering" else "Sales"
        people[index]["job_title"] = "manager"
    people[40]["job_title"] = "principal engineer"             # a mover by title only
    people += [person(48), person(49)]                         # joiners
    return people


def day3() -> list[dict[str, str]]:
    people = day2()
    for index in (5, 17, 44):                                  # leavers
        people[index]["status"] = "Terminated"
    people[9]["department"] = "Finance"                        # one more mover
    return people


def write(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    here = Path(__file__).parent
    for name, rows in (("day1.csv", day1()), ("day2.csv", day2()), ("day3.csv", day3())):
        write(here / name, rows)
