"""No two apps' routes overlap: every path one route answers, no route of another app answers
too, so the order of the apps in gdi_archive/urls.py (most frequent first) never decides which
view a request reaches."""

import re

from django.urls import get_resolver
from django.urls.resolvers import RoutePattern, URLResolver

SAMPLES = {"str": ["x1", "GDIF00000000001", "service-info"], "int": ["1", "42"], "path": ["a/b"], "slug": ["s-1"]}


def _routes(entries, prefix="", app=None):
    for entry in entries:
        if isinstance(entry, URLResolver):
            name = getattr(entry.urlconf_name, "__name__", "admin")  # an included module, or the admin's list
            yield from _routes(entry.url_patterns, prefix + str(entry.pattern), app or name)
        else:
            yield app, prefix, entry


def _regex(prefix: str, entry) -> re.Pattern:
    if isinstance(entry.pattern, RoutePattern):
        route = prefix + str(entry.pattern)
        return re.compile(RoutePattern(route, is_endpoint=True).regex.pattern)
    return re.compile(re.escape(prefix) + entry.pattern.regex.pattern.lstrip("^"))


def _samples(prefix: str, entry) -> list[str]:
    if not isinstance(entry.pattern, RoutePattern):
        return []  # the admin's own regexes, all under "admin/"
    route = prefix + str(entry.pattern)
    paths = [route]
    for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", route):
        values = SAMPLES[converter or "str"]
        token = f"<{converter}:{name}>" if converter else f"<{name}>"
        paths = [p.replace(token, v, 1) for p in paths for v in values]
    return paths


def test_no_route_of_one_app_answers_a_path_of_another():
    routes = [
        (app, _regex(prefix, entry), _samples(prefix, entry))
        for app, prefix, entry in _routes(get_resolver().url_patterns)
    ]
    assert len({app for app, _, _ in routes}) >= 10
    clashes = []
    for app, _, samples in routes:
        for sample in samples:
            others = {other for other, regex, _ in routes if other != app and regex.fullmatch(sample)}
            if others:
                clashes.append((sample, app, sorted(others)))
    assert clashes == []
