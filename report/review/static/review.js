// Keyboard shortcuts for the list and the pair page; every key has a button or link beside it.
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
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (typing(e)) { if (e.key === "Escape") e.target.blur(); return; }
    const help = document.getElementById("help");
    if (e.key === "?") { help.hidden = !help.hidden; return; }
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
