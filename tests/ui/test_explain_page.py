"""A number on the dashboard opens its explanation: the conversations that make it, with links to them."""
from __future__ import annotations

import json
import urllib.parse

from tests.ui.test_pages import TZ, scenario, url  # noqa: F401 (scenario is the fixture)


def test_a_dashboard_number_opens_the_conversations_that_make_it(scenario, page, artifacts):  # noqa: F811
    d, today = scenario
    w = d.workers[0]
    page.goto(url(w, f"/dashboard?tz={urllib.parse.quote(TZ)}&refresh=30"))
    page.wait_for_selector("body[data-updates]", timeout=30_000)
    links = page.locator('#agents tbody td[data-col="Handle Time (s)"] a.explain')
    values = links.evaluate_all("as => as.map(a => a.textContent)")
    index = max(range(len(values)), key=lambda i: int(values[i] or 0))
    value = values[index]
    assert int(value) > 0, "the scenario must give an agent handle time today"
    agent = page.locator("#agents tbody tr[data-id]").nth(index).get_attribute("data-id")

    links.nth(index).click()
    page.wait_for_selector("#summary[data-status]", timeout=60_000)
    assert page.locator("#summary").get_attribute("data-status") == "done", page.inner_text("#summary")
    assert page.inner_text("#total") == value
    shown = page.locator("#conversations tbody tr[data-id]").evaluate_all("rs => rs.map(r => r.dataset.id)")
    query = urllib.parse.urlencode({"type": "agent_metrics", "tz": TZ, "from": today, "to": today, "row": agent,
                                    "column": "Handle Time (s)"})
    status, body = w.get(f"/explain?{query}")
    assert status == 200
    api = json.loads(body)
    assert api["total"] == value and shown == [c["conversation_id"] for c in api["conversations"]] and shown
    page.screenshot(path=str(artifacts / "explain.png"), full_page=True)

    first = page.locator("#conversations tbody tr[data-id] a").first
    first.click()
    page.wait_for_load_state()
    assert json.loads(page.inner_text("body"))["Conversation ID"] == shown[0]


def test_the_explanation_page_says_why_a_cell_cannot_be_explained(scenario, page):  # noqa: F811
    d, today = scenario
    query = urllib.parse.urlencode({"type": "teams", "tz": TZ, "from": today, "to": today, "row": "x", "column": "Team Name"})
    page.goto(url(d.workers[0], f"/explain/view?{query}"))
    page.wait_for_selector("#summary[data-status=failed]", timeout=30_000)
    assert "not an aggregate" in page.inner_text("#error")
