# What scripts/ansible-sanity, ansible-integration, ansible-units and ansible-collection-lint share
# (sourced, from the repository's root): the project's Python and ansible-test, and a copy of the
# collection in a temporary tree ending ansible_collections/okta_lifecycle/okta, as ansible-test
# and ansible-lint need it.
#
# After `ansible_collection_copy NAME`: $work (the temporary directory, which the script removes on
# exit), $collections (the tree's root, for ANSIBLE_COLLECTIONS_PATH) and $collection (the copy).

venv=${OKTA_LIFECYCLE_VENV:-.venv}
python="$PWD/$venv/bin/python"
bin="$PWD/$venv/bin"
ansible_test="$bin/ansible-test"
if [ ! -x "$ansible_test" ]; then
    echo "ansible-test not found: run $venv/bin/python -m pip install -r requirements-test.txt" >&2
    exit 2
fi
python_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

ansible_collection_copy() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/okta-ansible-$1.XXXXXX")
    collections="$work/collections"
    collection="$collections/ansible_collections/okta_lifecycle/okta"
    # ansible-test keeps files of its own (an SSH key, temporary files) under $HOME/.ansible: the
    # scripts give it a home in $work.
    mkdir -p "$collection" "$work/home"
    # A copy, not a symlink: ansible-test writes tests/output inside the collection.
    tar -C ansible --exclude=./tests/output --exclude=__pycache__ --exclude=.ruff_cache --exclude='*.tar.gz' \
        --exclude=./tests/integration/integration_config.yml -cf - . | tar -C "$collection" -xf -
    # ansible-test lists a collection's files with git when it is in a repository: make the copy one
    # of its own, so that exactly the collection's files are tested.
    git -C "$collection" init -q
    git -C "$collection" add -A
}
