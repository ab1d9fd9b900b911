"""The export and queue forms in a real browser: every field keeps to its own place,
whatever the length of its options and labels, in English and Korean, wide and narrow."""

import pytest

from annotations.services.projects import project_create
from tests.browser.test_labeling import login
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The boxes of each field (a label and its control) on the page, in CSS pixels.
FIELD_BOXES = """() => [...document.querySelectorAll('.form-grid > label')].map(label => {
    const control = label.querySelector('select, input, textarea');
    const box = element => {
        const r = element.getBoundingClientRect();
        return {left: r.left, right: r.right, top: r.top, bottom: r.bottom};
    };
    return {name: control ? control.name : label.textContent.trim(), label: box(label),
            control: control ? box(control) : null};
})"""


def _overlap(a, b) -> bool:
    # Half a pixel of slack for sub-pixel rounding.
    return (
        min(a["right"], b["right"]) - max(a["left"], b["left"]) > 0.5
        and min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > 0.5
    )


def _inside(inner, outer) -> bool:
    return (
        inner["left"] >= outer["left"] - 0.5
        and inner["right"] <= outer["right"] + 0.5
        and inner["top"] >= outer["top"] - 0.5
        and inner["bottom"] <= outer["bottom"] + 0.5
    )


@pytest.mark.parametrize("width", [1280, 700])
@pytest.mark.parametrize("language", ["en", "ko"])
@pytest.mark.parametrize("path", ["exports/", "queues/new/"])
def test_form_fields_never_overlap(page, live_server, path, language, width):
    lead = UserFactory(username="lead")
    project_create(slug="devot", name="Devot", created_by=lead)
    login(page, live_server, lead)
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )
    page.set_viewport_size({"width": width, "height": 900})

    page.goto(f"{live_server.url}/p/devot/{path}")
    fields = page.evaluate(FIELD_BOXES)

    assert page.locator("html").get_attribute("lang") == language
    assert len(fields) >= 5
    for field in fields:
        if field["control"] is not None:
            assert _inside(field["control"], field["label"]), field["name"]
        assert field["label"]["right"] <= width + 0.5, field["name"]
    for index, field in enumerate(fields):
        for other in fields[index + 1 :]:
            assert not _overlap(field["label"], other["label"]), (field["name"], other["name"])
