// A classic script, not a module, so that it still runs where modules cannot: browsers refuse ES modules on a page
// opened from disk (file://), and the page would otherwise say "Checking…" for ever without a word of why.
"use strict";

if (window.location.protocol === "file:") {
  const message = document.getElementById("connection-message");
  message.textContent =
    "This page must be served over HTTP; browsers do not run its scripts from a file. Run `make demo` and open " +
    "http://127.0.0.1:8000/, or serve this folder (python -m http.server -d frontend 8080) and add " +
    "?api=<the API's URL>.";
  message.dataset.kind = "error";
  message.hidden = false;
}
