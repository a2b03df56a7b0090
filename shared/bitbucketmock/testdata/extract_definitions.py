#!/usr/bin/env python3
"""Copy the Swagger definitions the conformance test validates against out of
Atlassian's official Bitbucket Cloud spec, unchanged, with everything they
reference, so the test does not depend on the 900 KB spec being beside the
clone.

    python3 extract_definitions.py SWAGGER_JSON > bitbucket-cloud-definitions.json

SWAGGER_JSON is a download of https://api.bitbucket.org/swagger.json (the
committed extract came from x-revision d1f13d6672dd).
"""
import json
import sys

ROOTS = [
    "paginated_repositories", "repository", "paginated_projects", "project",
    "paginated_pullrequests", "pullrequest", "paginated_changeset", "commit",
    "paginated_tags", "paginated_branches", "workspace", "user", "error",
    "paginated_webhook_subscriptions", "webhook_subscription",
]


def refs(node, found):
    if isinstance(node, dict):
        if "$ref" in node:
            found.add(node["$ref"].rsplit("/", 1)[-1])
        for v in node.values():
            refs(v, found)
    elif isinstance(node, list):
        for v in node:
            refs(v, found)


def main():
    spec = json.load(open(sys.argv[1]))
    defs = spec["definitions"]
    keep, todo = set(), list(ROOTS)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        found = set()
        refs(defs[name], found)
        todo.extend(found)
    out = {
        "source": "definitions copied unchanged from Atlassian's Bitbucket Cloud Swagger 2.0 spec "
                  "(https://api.bitbucket.org/swagger.json, x-revision %s) by extract_definitions.py"
                  % spec.get("x-revision", "?"),
        "definitions": {k: defs[k] for k in sorted(keep)},
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


main()
