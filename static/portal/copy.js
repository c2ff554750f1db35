// "Copy" buttons: copy the text of the element named by data-copy-target.
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy-target]");
  if (!button) return;
  var text = document.getElementById(button.dataset.copyTarget).textContent;
  navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; });
});
