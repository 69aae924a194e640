"""The web viewer in a real headless Chromium (Debian's, driven through chromedriver).

Spans reach a real ``traceexec serve`` over OTLP (a wrapped command, a fan-out
DAG run, hand-made OTLP/JSON), and the pages it serves are looked at as a person
would: rows, bars, clicks.  Screenshots go to test-artifacts/browser/ (git-ignored).
"""
from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request

import pytest

from traceexec.delivery import span
from traceexec.store import local as store

from conftest import ROOT, run_traceexec, traceexec_env

ARTIFACTS = os.path.join(ROOT, "test-artifacts", "browser")
HOSTILE = '<script>window.owned=1</script><img src=x onerror="window.owned=2">'
FAN_OUT = """\
name: fan-out
steps:
  - name: fetch
    command: sleep 0.1
  - name: long-batch
    command: sleep 0.9
    depends: fetch
  - name: short-batch-1
    command: sleep 0.2
    depends: fetch
  - name: short-batch-2
    command: sleep 0.3
    depends: fetch
  - name: report
    command: sleep 0.1
    depends: [long-batch, short-batch-1, short-batch-2]
"""


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory, viewer):
    """Chromium; it quits before the viewer stops (its idle connections would hold up the
    receiver's graceful stop until they time out)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = find_chromium()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1400,900",
                 "--user-data-dir=%s" % tmp_path_factory.mktemp("chromium-profile")):
        options.add_argument(flag)
    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium look for a driver online
    driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")),
                              options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def viewer(tmp_path_factory):
    """A receiver with a wrapped command, a fan-out DAG run and hand-made traces in it."""
    from conftest import Receiver
    folder = tmp_path_factory.mktemp("viewer")
    receiver = Receiver(folder)
    env = traceexec_env(folder / "client", OTEL_EXPORTER_OTLP_ENDPOINT=receiver.grpc_endpoint,
                        TRACEEXEC_WAIT="1")
    (folder / "client").mkdir()
    wrapped = run_traceexec(["--name", "nightly-backup", "--", "sh", "-c", "exit 3"], env)
    assert wrapped.returncode == 3
    dag = folder / "fan-out.yaml"
    dag.write_text(FAN_OUT)
    done = run_traceexec(["run", "--json", str(dag)], env, cwd=folder)  # no repo path in pictures
    assert done.returncode == 0, done.stderr.decode()
    dag_trace = json.loads(done.stdout)["trace_id"]
    post_json(receiver, depends_trace())
    post_json(receiver, {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": HOSTILE}}]}, "scopeSpans": [{
            "spans": [{"traceId": "ab" * 16, "spanId": "00000000000000e1", "name": HOSTILE,
                       "startTimeUnixNano": "1", "endTimeUnixNano": "2", "attributes": [
                           {"key": HOSTILE, "value": {"stringValue": HOSTILE}}]}]}]}]})
    receiver.wait_for(1 + 6 + 5 + 1, timeout=60)
    receiver.dag_trace = dag_trace
    yield receiver
    receiver.stop()


def post_json(receiver, document):
    request = urllib.request.Request(
        receiver.http_endpoint, data=json.dumps(document).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


DEPENDS_TRACE = "cd" * 16


def depends_trace():
    """A DAG trace with depends links where timing alone would pick another chain: the
    step 'report' waited for 'quick' (1.8 s after 'fetch'), not for 'slow' (2.9 s, on its
    own, which ended last before 'report' started)."""
    def step(span_id, name, start, end, depends=()):
        return {"traceId": DEPENDS_TRACE, "spanId": span_id, "parentSpanId": "00000000000000d0",
                "name": "Step: " + name, "startTimeUnixNano": str(start),
                "endTimeUnixNano": str(end),
                "links": [{"traceId": DEPENDS_TRACE, "spanId": d, "attributes": [
                    {"key": "traceexec.link.type", "value": {"stringValue": "depends"}}]}
                    for d in depends]}
    t, s = 1_700_000_000_000_000_000, 1_000_000_000
    spans = [{"traceId": DEPENDS_TRACE, "spanId": "00000000000000d0", "name": "DAG: linked",
              "startTimeUnixNano": str(t), "endTimeUnixNano": str(t + 4 * s)},
             step("00000000000000a1", "fetch", t, t + s),
             step("00000000000000a2", "slow", t, t + 29 * s // 10),
             step("00000000000000a3", "quick", t + s, t + 28 * s // 10, ["00000000000000a1"]),
             step("00000000000000a4", "report", t + 3 * s, t + 4 * s, ["00000000000000a3"])]
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "linked"}}]},
        "scopeSpans": [{"spans": spans}]}]}


def shoot(driver, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    driver.save_screenshot(os.path.join(ARTIFACTS, name + ".png"))


def open_page(driver, url, ready_css):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait
    driver.get(url)
    WebDriverWait(driver, 30).until(ready.presence_of_element_located((By.CSS_SELECTOR,
                                                                       ready_css)))


def wait_until(driver, predicate, what):
    """Wait (generously: the machine may be busy) until ``predicate(driver)`` holds."""
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, 30, poll_frequency=0.05).until(predicate, what)


def details_show(driver, text):
    from selenium.webdriver.common.by import By
    wait_until(driver, lambda d: text in d.find_element(By.ID, "details").text,
               "details showing %r" % text)


def rows_by_name(driver):
    from selenium.webdriver.common.by import By
    return {row.find_element(By.CSS_SELECTOR, ".name").text: row
            for row in driver.find_elements(By.CSS_SELECTOR, "#spacer .row")}


def test_the_list_shows_traces_sent_over_otlp(browser, viewer):
    from selenium.webdriver.common.by import By
    open_page(browser, viewer.web_url, "table.list")
    roots = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "table.list td.name a")]
    assert {"nightly-backup", "DAG: fan-out", "DAG: linked", HOSTILE} <= set(roots)
    failed = browser.find_element(By.XPATH, "//tr[td/a[text()='nightly-backup']]")
    assert "failed" in failed.get_attribute("class")  # errors easy to spot
    shoot(browser, "list")


def test_fan_out_steps_sit_side_by_side_and_clicking_shows_attributes(browser, viewer):
    from selenium.webdriver.common.by import By
    open_page(browser, viewer.web_url + "trace/" + viewer.dag_trace, "#spacer .row")
    rows = rows_by_name(browser)
    bars = {name: row.find_element(By.CSS_SELECTOR, ".bar").rect for name, row in rows.items()}
    parallel = [bars["Step: " + n] for n in ("long-batch", "short-batch-1", "short-batch-2")]
    for one in parallel:
        for other in parallel:  # every pair overlaps on the time axis
            assert one["x"] < other["x"] + other["width"] and other["x"] < one["x"] + one["width"]
    assert bars["Step: fetch"]["x"] + bars["Step: fetch"]["width"] <= min(
        b["x"] for b in parallel) + 2
    assert bars["Step: report"]["x"] >= max(b["x"] + b["width"] for b in parallel) - 2
    rows["Step: long-batch"].click()
    details_show(browser, "step.exit_code")
    details = browser.find_element(By.ID, "details")
    assert "Step: long-batch" in details.find_element(By.TAG_NAME, "h2").text
    text = details.text
    assert "step.exit_code" in text and "step.status" in text and "succeeded" in text
    critical = {name for name, row in rows_by_name(browser).items()
                if "critical" in row.get_attribute("class")}
    assert critical == {"DAG: fan-out", "Step: fetch", "Step: long-batch", "Step: report"}
    shoot(browser, "fan-out-dag")


def test_the_critical_path_follows_depends_links(browser, viewer):
    from selenium.webdriver.common.by import By
    open_page(browser, viewer.web_url + "trace/" + DEPENDS_TRACE, "#spacer .row")
    critical = {name for name, row in rows_by_name(browser).items()
                if "critical" in row.get_attribute("class")}
    assert critical == {"DAG: linked", "Step: fetch", "Step: quick", "Step: report"}
    assert "depends links" in browser.find_element(By.CSS_SELECTOR, ".critical-legend").text
    shoot(browser, "depends-critical-path")


def test_a_span_named_script_renders_as_text(browser, viewer):
    from selenium.webdriver.common.by import By
    open_page(browser, viewer.web_url + "trace/" + "ab" * 16, "#spacer .row")
    assert browser.find_element(By.CSS_SELECTOR, "h1").text.startswith(HOSTILE)
    rows_by_name(browser)[HOSTILE].click()
    details_show(browser, "span id")
    assert HOSTILE in browser.find_element(By.ID, "details").text
    assert browser.execute_script("return window.owned === undefined")
    assert not browser.find_elements(By.CSS_SELECTOR, "img")
    open_page(browser, viewer.web_url, "table.list")
    assert browser.execute_script("return window.owned === undefined")
    assert not browser.find_elements(By.CSS_SELECTOR, "img")
    shoot(browser, "script-as-text")


def names_drawn(driver) -> list:
    """The names of the rows drawn, read in one go by the page (rows drawn again while
    they are read would be stale elements)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#spacer .row .name'))"
        ".map(function (e) { return e.textContent; })")


def test_a_big_trace_draws_only_what_is_on_screen_and_fetches_details(browser, viewer, tmp_path):
    from selenium.webdriver.common.by import By
    big = "ef" * 16
    records = [span.new_record(trace_id=big, span_id="%016x" % 1, name="build", start_ns=0,
                               end_ns=10**10)]
    for n in range(2, 20_501):  # over MAX_INLINE_DETAILS: details come from /api/span
        records.append(span.new_record(
            trace_id=big, span_id="%016x" % n, parent_span_id="%016x" % (1 + (n - 2) // 200
                                                                           if n > 201 else 1),
            name="cc file%d.c" % n, start_ns=n * 10**5, end_ns=n * 10**5 + 10**7,
            status_code=span.STATUS_ERROR if n == 19_999 else 0))
    store.append(str(viewer.home), records)
    began = time.monotonic()
    open_page(browser, viewer.web_url + "trace/" + big, "#spacer .row")
    loaded = time.monotonic() - began
    drawn = len(browser.find_elements(By.CSS_SELECTOR, "#spacer .row"))
    assert 0 < drawn < 150, drawn  # folded, and only a screenful drawn
    browser.find_element(By.ID, "expand").click()
    assert len(browser.find_elements(By.CSS_SELECTOR, "#spacer .row")) < 150
    browser.find_element(By.ID, "next-error").click()
    details_show(browser, "cc file19999.c")  # fetched from /api/span
    selected = browser.find_element(By.CSS_SELECTOR, "#spacer .row.selected .name").text
    assert selected == "cc file19999.c"  # (the only error)
    assert "ERROR" in browser.find_element(By.ID, "details").text
    shoot(browser, "twenty-thousand-spans")
    print("20,500-span page loaded in %.2f s" % loaded)


def test_the_html_file_works_without_the_server(browser, viewer, tmp_path):
    from selenium.webdriver.common.by import By
    target = tmp_path / "fan-out.html"
    result = run_traceexec(["show", "--html", str(target), viewer.dag_trace],
                           traceexec_env(viewer.home))
    assert result.returncode == 0, result.stderr
    open_page(browser, target.as_uri(), "#spacer .row")
    rows_by_name(browser)["Step: report"].click()
    details_show(browser, "Step: report")
    assert "step.exit_code" in browser.find_element(By.ID, "details").text
    shoot(browser, "html-file")


def test_readable_waterfall_grid_colours_commands_units_and_zoom(browser, viewer):
    from selenium.webdriver.common.by import By
    open_page(browser, viewer.web_url + "trace/" + viewer.dag_trace, "#spacer .row")
    ticks = [t.text for t in browser.find_elements(By.CSS_SELECTOR, ".axis .tick")]
    assert len(ticks) >= 5 and ticks[0] == "0" and all(t.endswith(("ms", "s")) for t in ticks[1:])
    assert len(browser.find_elements(By.CSS_SELECTOR, "#spacer .gridline")) == len(ticks)
    rows = rows_by_name(browser)
    assert rows["Step: long-batch"].find_element(By.CSS_SELECTOR, ".cmd").text == "sleep 0.9"
    # one service here: every bar in its colour; the critical ones outlined
    colours = {row.find_element(By.CSS_SELECTOR, ".bar").value_of_css_property(
        "background-color") for row in rows.values()}
    assert len(colours) == 1 and colours != {"rgba(0, 0, 0, 0)"}
    assert "drag" in rows["Step: long-batch"].find_element(By.CSS_SELECTOR, ".dur").text
    assert rows["Step: short-batch-1"].find_elements(By.CSS_SELECTOR, ".slack")
    rows["Step: long-batch"].click()
    details_show(browser, "max_rss")
    cells = {tr.find_element(By.CSS_SELECTOR, "td.key").text: tr for tr in
             browser.find_elements(By.CSS_SELECTOR, "#details tr")}
    rss = cells["traceexec.process.max_rss"]
    assert "MiB (" in rss.find_element(By.CSS_SELECTOR, "td.value").text
    assert cells["traceexec.process.cpu.user"].find_element(
        By.CSS_SELECTOR, "td.value").text.endswith(("µs", "ms", "s"))
    # every key is on one line (its text makes one line box)
    lines = browser.execute_script(
        "return Array.from(document.querySelectorAll('#details td.key')).map(function (td) {"
        " var r = document.createRange(); r.selectNodeContents(td);"
        " return r.getClientRects().length; });")
    assert lines and set(lines) == {1}, lines
    assert "slack" in cells and "drag" in cells
    rows = rows_by_name(browser)  # selecting redrew them
    lane = rows["Step: long-batch"].find_element(By.CSS_SELECTOR, ".lane").rect["width"]
    browser.find_element(By.ID, "zoom").click()
    wait_until(browser, lambda d: not d.find_element(By.ID, "unzoom").get_attribute("disabled"),
               "zoomed")
    rows = rows_by_name(browser)
    bar = rows["Step: long-batch"].find_element(By.CSS_SELECTOR, ".bar").rect["width"]
    assert bar > 0.85 * lane  # the span's range fills the lane
    fetch = rows["Step: fetch"].find_element(By.CSS_SELECTOR, ".bar")
    assert not fetch.is_displayed() or fetch.rect["width"] < 0.1 * lane  # its tail at most
    shoot(browser, "zoomed")
    browser.find_element(By.ID, "unzoom").click()
    wait_until(browser, lambda d: d.find_element(By.ID, "unzoom").get_attribute("disabled"),
               "whole trace again")


def test_service_colours_differ_by_service(browser, viewer, tmp_path):
    from selenium.webdriver.common.by import By
    mixed = "12" * 16
    store.append(str(viewer.home), [
        span.new_record(trace_id=mixed, span_id="00000000000000a1", name="front",
                        start_ns=0, end_ns=10**9, resource={"service.name": "web"}),
        span.new_record(trace_id=mixed, span_id="00000000000000a2",
                        parent_span_id="00000000000000a1", name="query", start_ns=10**8,
                        end_ns=5 * 10**8, resource={"service.name": "db"})])
    open_page(browser, viewer.web_url + "trace/" + mixed, "#spacer .row")
    rows = rows_by_name(browser)
    colours = [rows[n].find_element(By.CSS_SELECTOR, ".bar").value_of_css_property(
        "background-color") for n in ("front", "query")]
    assert colours[0] != colours[1]


def test_a_dag_across_its_runs(browser, viewer):
    from selenium.webdriver.common.by import By
    open_page(browser, viewer.web_url + "trace/" + viewer.dag_trace, "#spacer .row")
    link = browser.find_element(By.LINK_TEXT, "this DAG's critical path across runs")
    # opened, not clicked: a click lets Chromium open a spare connection, which holds up
    # the receiver's graceful stop at the end of the module until its request timeout
    open_page(browser, link.get_attribute("href"), "table.critical-runs")
    cells = {tr.find_element(By.CSS_SELECTOR, "td.name").text: tr.text for tr in
             browser.find_elements(By.CSS_SELECTOR, "table.critical-runs tbody tr")}
    assert "1 of 1" in cells["long-batch"] and "0 of 1" in cells["short-batch-1"]
    assert list(cells)[0] == "long-batch"
    shoot(browser, "critical-across-runs")


def test_a_running_command_shows_running_and_the_page_follows_it_to_its_end(browser, viewer,
                                                                            tmp_path):
    import subprocess
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from conftest import TRACEEXEC
    env = traceexec_env(viewer.home)
    child = subprocess.Popen(TRACEEXEC + ["--name", "live-job", "--", "sh", "-c",
                                          "while [ ! -e go ]; do sleep 0.02; done"],
                             cwd=tmp_path, env=env)
    try:
        def running_row(driver):
            driver.get(viewer.web_url + "?name=live-job")
            found = driver.find_elements(By.XPATH, "//tr[td/a[text()='live-job']]")
            return found and "running" in found[0].text and found[0]
        row = wait_until(browser, running_row, "live-job listed as running")
        row.find_element(By.LINK_TEXT, "live-job").click()
        wait_until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#spacer .row.running"),
                   "the running row")
        assert browser.find_element(By.ID, "live").is_displayed()
        assert browser.find_element(By.CSS_SELECTOR, ".row.running .dur").text.startswith(
            "running ")
        shoot(browser, "running")
    finally:
        (tmp_path / "go").write_text("")
        assert child.wait(timeout=60) == 0

    def ended(driver):  # the page reloads itself until the span has ended
        try:
            return driver.find_elements(By.CSS_SELECTOR, "#spacer .row") and not \
                driver.find_elements(By.CSS_SELECTOR, "#spacer .row.running") and not \
                driver.find_elements(By.ID, "live")
        except WebDriverException:
            return False
    wait_until(browser, ended, "the page showing the span ended")
    assert "live-job" in browser.find_element(By.CSS_SELECTOR, "#spacer .row .name").text


def test_a_comparison_draws_both_runs_side_by_side(browser, viewer):
    from selenium.webdriver.common.by import By
    ms = 1_000_000
    for trace_id, slow in (("5a" * 16, 215), ("5b" * 16, 514)):
        records = [span.new_record(trace_id=trace_id, span_id="00000000000000c0", name="DAG: ab",
                                   start_ns=0, end_ns=(100 + slow + 12) * ms)]
        start = 0
        for number, (name, length) in enumerate((("fetch", 100), ("slow", slow),
                                                 ("tiny", 12))):
            records.append(span.new_record(
                trace_id=trace_id, span_id="00000000000000c%d" % (number + 1),
                parent_span_id="00000000000000c0", name="Step: " + name,
                start_ns=start * ms,
                end_ns=(start + length + (number == 2 and slow == 514)) * ms))
            start += length
        store.append(str(viewer.home), records)
    open_page(browser, viewer.web_url + "diff?a=" + "5a" * 8 + "&b=" + "5b" * 8, "table.diff")
    rows = {tr.find_element(By.CSS_SELECTOR, "td.name").text.strip("· "): tr
            for tr in browser.find_elements(By.CSS_SELECTOR, "table.diff tbody tr")}
    slow_a, slow_b = (rows["Step: slow"].find_element(By.CSS_SELECTOR, "rect." + k).rect
                      for k in ("bar-a", "bar-b"))
    assert slow_b["width"] > 2 * slow_a["width"] and slow_b["y"] > slow_a["y"]
    assert "slower" in rows["Step: slow"].find_element(By.CSS_SELECTOR, "td.change") \
        .get_attribute("class")
    # +1 ms on 12 ms: under the noise floor, not coloured
    assert rows["Step: tiny"].find_element(By.CSS_SELECTOR, "td.change") \
        .get_attribute("class") == "change"
    shoot(browser, "comparison")


def test_a_big_trace_opens_on_its_first_screen_and_unfolds_once_every_row_is_in(browser,
                                                                                 viewer):
    """Over pages.FIRST_SCREEN_ABOVE spans the page carries its top two levels only; a
    folded row's children, the critical path alone and every row arrive from /api/rows."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from traceexec.store.web import pages
    big = "ee" * 16
    count = pages.FIRST_SCREEN_ABOVE + 1000
    records = [span.new_record(trace_id=big, span_id="%016x" % 1, name="make", start_ns=0,
                               end_ns=10**10)]
    for n in range(2, count + 1):
        parent = 1 if n <= 21 else 2 + (n - 22) % 20
        records.append(span.new_record(
            trace_id=big, span_id="%016x" % n, parent_span_id="%016x" % parent,
            name="recipe %d" % n if n <= 21 else "cc %d.c" % n, start_ns=n * 10**5,
            end_ns=n * 10**5 + 10**7))
    store.append(str(viewer.home), records)
    open_page(browser, viewer.web_url + "trace/" + big, "#spacer .row")
    carried = browser.execute_script(
        "return JSON.parse(document.getElementById('trace-data').textContent).rows.id.length")
    assert carried == 21  # the root and its 20 children
    names = names_drawn(browser)
    assert "recipe 2" in names and not any(name.startswith("cc ") for name in names)

    def unfold(driver):  # the rows are drawn again when every row arrives
        try:
            rows_by_name(driver)["recipe 2"].find_element(By.CSS_SELECTOR, ".fold").click()
        except StaleElementReferenceException:
            return False
        return True
    wait_until(browser, unfold, "a click on recipe 2's fold")
    wait_until(browser, lambda d: "cc 22.c" in names_drawn(d), "recipe 2 unfolded")
    height = browser.execute_script("return document.getElementById('spacer').offsetHeight")
    assert height >= (21 + (count - 21) // 20) * 22
    browser.find_element(By.ID, "only-critical").click()
    wait_until(browser, lambda d: 0 < len(names_drawn(d)) < 10, "only the critical path")
    assert "make" in names_drawn(browser)
    shoot(browser, "first-screen")
