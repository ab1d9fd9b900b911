"""Layout in a real browser: every field of the export and queue forms keeps to its
own place, whatever the length of its options and labels, in English and Korean, wide
and narrow; and no page is wider than a phone's screen."""

import pytest

from annotations.services.projects import project_create
from tests.browser.test_labeling import labeling_setup, login, next_url
from tests.conftest import conversation_payload
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


# A long unbroken word in the data, as logged answers hold (URLs, stack traces, keys).
LONG_WORD = "x" * 300


@pytest.mark.parametrize("language", ["en", "ko"])
def test_no_page_is_wider_than_a_phone(page, live_server, language):
    payload = conversation_payload("conv-" + "9" * 60)
    payload["messages"][0]["content"] += " " + LONG_WORD
    payload["messages"][1]["content"] += " " + LONG_WORD
    _, queue = labeling_setup(payload)
    lead = queue.project.memberships.get(role="admin").user
    login(page, live_server, lead)
    page.context.add_cookies(
        [{"name": "django_language", "value": language, "url": live_server.url}]
    )
    page.set_viewport_size({"width": 390, "height": 800})
    project = f"{live_server.url}/p/{queue.project.slug}"
    pages = [
        f"{live_server.url}/",
        f"{project}/queues/",
        f"{project}/queues/new/",
        f"{project}/queues/{queue.pk}/",
        f"{project}/conversations/",
        f"{project}/conversations/{payload['id']}/",
        f"{project}/settings/",
        f"{project}/exports/",
        next_url(live_server, queue),
    ]

    for url in pages:
        page.goto(url)
        # What htmx loads into the page (the queue form's count) counts too.
        page.wait_for_load_state("networkidle")
        assert page.locator("html").get_attribute("lang") == language
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (url, width)
