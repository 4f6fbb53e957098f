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
