// A few lines of plain JavaScript: the Add numbers dialog and the call path editor.
(function () {
  const dialog = document.getElementById("numbers-dialog");
  const opener = document.getElementById("add-numbers");
  if (dialog && opener) {
    opener.addEventListener("click", (event) => { event.preventDefault(); dialog.showModal(); });
    document.getElementById("numbers-cancel").addEventListener("click", () => dialog.close());
    const search = document.getElementById("numbers-search");
    const filter = () => {
      const words = search.value.toLowerCase().replace(/[^0-9a-z ]/g, "").trim();
      for (const row of document.querySelectorAll("#numbers-choices tbody tr")) {
        row.hidden = words !== "" && !row.dataset.search.replace(/\+/g, "").includes(words);
      }
    };
    search.addEventListener("input", filter);
    filter();
  }
  const path = document.getElementById("call-path");
  if (path) {
    path.addEventListener("click", (event) => {
      const item = event.target.closest("li");
      if (!item) return;
      if (event.target.classList.contains("up") && item.previousElementSibling) {
        path.insertBefore(item, item.previousElementSibling);
      } else if (event.target.classList.contains("down") && item.nextElementSibling) {
        path.insertBefore(item.nextElementSibling, item);
      } else if (event.target.classList.contains("remove")) {
        item.remove();
      }
    });
    const add = document.getElementById("add-step");
    add.addEventListener("change", () => {
      const step = add.value;
      if (!step || path.querySelector(`li[data-step="${step}"]`)) { add.value = ""; return; }
      const item = document.createElement("li");
      item.dataset.step = step;
      item.innerHTML = `<input type="hidden" name="path" value="${step}"><code>${step}</code> ` +
        `<button type="button" class="small up">↑</button><button type="button" class="small down">↓</button>` +
        `<button type="button" class="small remove">Remove</button>`;
      path.appendChild(item);
      add.value = "";
    });
  }
})();
// The numbers page: one box ticks every number on the page.
(function () {
  const all = document.getElementById("select-page");
  if (!all) return;
  all.addEventListener("change", () => {
    for (const box of document.querySelectorAll("#mappings input[name=selected]")) {
      box.checked = all.checked;
    }
  });
})();
// The allowed caller IDs picker: the chosen list, and a search that asks the server
// (/admin/numbers/lookup), so it stays small however many numbers the organization has.
(function () {
  const list = document.getElementById("allowed-list");
  const search = document.getElementById("allowed-search");
  const results = document.getElementById("allowed-results");
  if (!list || !search || !results) return;
  const none = document.getElementById("allowed-none");
  const chosen = () => new Set([...list.querySelectorAll("input[name=allowed_caller_ids]")]
    .map((input) => input.value));
  const refreshNone = () => { none.hidden = list.children.length > 0; };
  const item = (number, label, button) => {
    const li = document.createElement("li");
    li.dataset.number = number;
    const code = document.createElement("code");
    code.textContent = number;
    const muted = document.createElement("span");
    muted.className = "muted";
    muted.textContent = label;
    const action = document.createElement("button");
    action.type = "button";
    action.className = `small ${button.toLowerCase()}`;
    action.textContent = button;
    li.append(code, " ", muted, " ", action);
    return li;
  };
  list.addEventListener("click", (event) => {
    if (event.target.classList.contains("remove")) {
      event.target.closest("li").remove();
      refreshNone();
      show(lastAnswer);
    }
  });
  results.addEventListener("click", (event) => {
    if (!event.target.classList.contains("add")) return;
    const row = event.target.closest("li");
    const li = item(row.dataset.number, row.dataset.label, "Remove");
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = "allowed_caller_ids";
    input.value = row.dataset.number;
    li.prepend(input);
    list.appendChild(li);
    row.remove();
    refreshNone();
  });
  let lastAnswer = null;
  const show = (answer) => {
    results.replaceChildren();
    if (!answer) return;
    const have = chosen();
    for (const n of answer.numbers) {
      if (have.has(n.number)) continue;
      const li = item(n.number, n.label, "Add");
      li.dataset.label = n.label;
      results.appendChild(li);
    }
    if (answer.total > answer.numbers.length) {
      const more = document.createElement("li");
      more.className = "muted more";
      more.textContent = `${answer.total - answer.numbers.length} more match: type more to narrow`;
      results.appendChild(more);
    }
  };
  let asked = 0;
  const ask = async () => {
    const words = search.value.trim();
    const mine = ++asked;
    delete results.dataset.query;
    if (!words) { lastAnswer = null; show(null); results.dataset.query = ""; return; }
    const response = await fetch(`/admin/numbers/lookup?q=${encodeURIComponent(words)}`,
                                 {credentials: "same-origin"});
    const json = (response.headers.get("content-type") || "").includes("json");
    if (!response.ok || !json || mine !== asked) return;  // signed out: nothing to show
    lastAnswer = await response.json();
    if (mine !== asked) return;
    show(lastAnswer);
    results.dataset.query = words;  // drawn: the answer to these words is shown
  };
  let timer = null;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(ask, 150); });
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); clearTimeout(timer); ask(); }
  });
})();
