// The result page: print without an inline handler (the page's content policy allows scripts from 'self' only).
(function () {
  const button = document.getElementById("print");
  if (button) button.addEventListener("click", () => window.print());
})();
