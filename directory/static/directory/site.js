// Progressive enhancement of the server-rendered pages: copy buttons and instant filtering.
// Everything works without this file; no data leaves this site's origin.
"use strict";

document.documentElement.classList.add("js");

// The page's own words, in the page's language (data-* attributes of #toast, base.html).
function text(name) {
  const box = document.getElementById("toast");
  return (box && box.dataset[name]) || "";
}

function toast(message) {
  const box = document.getElementById("toast");
  if (!box) return;
  box.textContent = message;
  box.classList.add("shown");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("shown"), 3000);
}

async function copyJoinLink(button) {
  const input = button.closest(".join").querySelector("input");
  try {
    await navigator.clipboard.writeText(input.value);
    button.textContent = text("copied");
    toast(text("copiedNote"));
    setTimeout(() => { button.textContent = text("copy"); }, 2000);
  } catch (error) {
    input.focus();
    input.select();
    toast(text("copyFailed"));
  }
}

function enableCopyButtons(root) {
  root.querySelectorAll("button.copy").forEach((button) => { button.hidden = false; });
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button.copy");
  if (button) copyJoinLink(button);
});

document.addEventListener("focusin", (event) => {
  if (event.target.matches(".join input")) event.target.select();
});

function instantFilters(form) {
  const results = document.getElementById("results");
  let timer = null;
  let controller = null;

  async function refresh() {
    const params = new URLSearchParams(new FormData(form));
    for (const [key, value] of [...params.entries()]) {
      if (!value || (key === "sort" && value === "active_users")) params.delete(key);
    }
    const url = form.action.split("?")[0] + (params.toString() ? "?" + params : "");
    if (controller) controller.abort();
    controller = new AbortController();
    try {
      const response = await fetch(url, {
        headers: { "X-Requested-With": "fetch" }, signal: controller.signal,
      });
      if (!response.ok) return;
      results.innerHTML = await response.text();
      enableCopyButtons(results);
      const count = results.querySelector(".summary");
      document.getElementById("announce").textContent = count ? count.textContent : "";
      history.replaceState(null, "", url);
    } catch (error) {
      if (error.name !== "AbortError") form.submit();
    }
  }

  form.addEventListener("input", (event) => {
    clearTimeout(timer);
    timer = setTimeout(refresh, event.target.type === "search" ? 200 : 0);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    refresh();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  enableCopyButtons(document);
  const form = document.getElementById("filters");
  if (form && window.fetch) instantFilters(form);
});
