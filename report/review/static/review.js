// Keyboard shortcuts for the list and the pair page (every key has a button or link beside it), and
// reviews sent without a reload: a decision on a pair loads the next unreviewed pair in place.
(function () {
  "use strict";
  function typing(e) {
    const t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }
  function select(rows, i) {
    rows.forEach((r) => r.classList.remove("selected"));
    if (rows[i]) { rows[i].classList.add("selected"); rows[i].scrollIntoView({ block: "nearest" }); }
    return rows[i] ? i : -1;
  }
  let listRow = -1;
  let verdict = -1;

  function flash(text, isError) {
    const box = document.getElementById("flash");
    if (!box) return;
    box.textContent = text;
    box.className = isError ? "error" : "";
    box.hidden = !text;
  }
  function showProgress(p) {
    const box = document.getElementById("progress");
    if (!box || !p) return;
    box.dataset.reviewed = p.reviewed;
    box.dataset.total = p.total;
    const bar = box.querySelector("progress");
    if (bar) { bar.value = p.reviewed; bar.max = p.total || 1; }
    const count = box.querySelector(".count");
    if (count) count.innerHTML = "<b>" + p.reviewed + "</b> of " + p.total + " ranked pair(s) reviewed";
  }
  // Replace the page's main part with another page's, as if it had been loaded.
  async function goTo(url, message) {
    const res = await fetch(url, { headers: { Accept: "text/html" } });
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const main = doc.querySelector("main");
    if (!res.ok || !main) { window.location = url; return; }
    document.querySelector("main").replaceWith(main);
    document.title = doc.title;
    history.pushState({}, "", url);
    verdict = -1;
    flash(message, false);
    window.scrollTo(0, 0);
  }
  function stateTag(label, correct) {
    if (label === "wrong") return '<span class="tag reject">wrong → ' + escapeHtml(correct) + "</span>";
    if (label === "right") return '<span class="tag accept">right</span>';
    return "";
  }
  function escapeHtml(s) {
    const d = document.createElement("div");
    d.textContent = s == null ? "" : String(s);
    return d.innerHTML;
  }

  document.addEventListener("submit", async function (e) {
    const form = e.target;
    if (!form.matches("#pair-review, .verdict-form")) return;
    e.preventDefault();
    const data = new FormData(form);
    if (e.submitter && e.submitter.name) data.append(e.submitter.name, e.submitter.value);
    let res;
    try {
      res = await fetch(form.action, {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(data).toString(),
      });
    } catch (err) {
      flash("not stored: the review app did not answer (" + err + ")", true);
      return;
    }
    if (!res.ok) {
      const doc = new DOMParser().parseFromString(await res.text(), "text/html");
      const why = doc.querySelector(".message");
      flash("not stored: " + (why ? why.textContent : res.status + " " + res.statusText), true);
      return;
    }
    const answer = await res.json();
    showProgress(answer.progress);
    const label = data.get("label");
    if (form.matches(".verdict-form")) {
      const row = form.closest("tr.verdict");
      row.querySelector("td.state").innerHTML = stateTag(label, data.get("correct_label"));
      return;
    }
    const scenario = document.querySelector(".meta h1").firstChild.textContent.trim();
    const done = label + "ed " + scenario + " (by " + answer.reviewer + ")";
    if (answer.next) {
      await goTo(answer.next, done + " · " + answer.progress.reviewed + " of " + answer.progress.total + " reviewed");
    } else {
      document.getElementById("pair-state").innerHTML =
        '<span class="tag ' + escapeHtml(label) + '">' + escapeHtml(label) + "ed</span> by " + escapeHtml(answer.reviewer) + " just now";
      flash(done + " · every ranked pair is reviewed", false);
    }
  });
  window.addEventListener("popstate", function () { window.location.reload(); });

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const help = document.getElementById("help");
    if (e.key === "Escape" && help && !help.hidden) { help.hidden = true; return; }
    if (typing(e)) { if (e.key === "Escape") e.target.blur(); return; }
    if (e.key === "?") { help.hidden = !help.hidden; return; }
    if (e.key === "N") { document.getElementById("next-unreviewed")?.click(); return; }
    const listRows = Array.from(document.querySelectorAll("#items tbody tr[data-href]"));
    if (listRows.length) {
      if (e.key === "j") listRow = select(listRows, Math.min(listRow + 1, listRows.length - 1));
      else if (e.key === "k") listRow = select(listRows, Math.max(listRow - 1, 0));
      else if (e.key === "Enter" && listRow >= 0) window.location = listRows[listRow].dataset.href;
      else if (e.key === "/") { e.preventDefault(); document.querySelector(".filters select").focus(); }
      return;
    }
    const verdicts = Array.from(document.querySelectorAll("tr.verdict"));
    if (e.key === "a") document.getElementById("accept")?.click();
    else if (e.key === "r") document.getElementById("reject")?.click();
    else if (e.key === "u") window.location = "/";
    else if (/^[1-9]$/.test(e.key)) verdict = select(verdicts, Number(e.key) - 1);
    else if (verdict >= 0 && (e.key === "y" || e.key === "n")) {
      verdicts[verdict].querySelector(e.key === "y" ? "button.right" : "button.wrong").click();
    } else if (verdict >= 0 && e.key === "l") {
      const s = verdicts[verdict].querySelector("select");
      s.selectedIndex = (s.selectedIndex + 1) % s.options.length;
    }
  });
})();
