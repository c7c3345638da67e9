// Where the page finds the API. Empty means "the same origin that served this page" (the local gateway).
// For the deployed stack, set it to the API Gateway stage URL printed by `sam deploy`
// (the `ApiUrl` output), e.g. "https://abc123.execute-api.us-east-1.amazonaws.com/Prod".
// A `?api=` query parameter on the page's URL overrides it, but only where the page itself runs on this machine
// (localhost, 127.0.0.1, [::1] or file:): on a public host a crafted link could otherwise send a visitor's phone number
// and reviews to any server. This file holds no secrets, and must never.
window.API_BASE = window.API_BASE || "";

// How long the page waits for one API answer before it says the server is not responding (API Gateway gives up
// after 29 s itself). A `?timeout=<seconds>` query parameter overrides it.
window.API_TIMEOUT_SECONDS = window.API_TIMEOUT_SECONDS || 30;
