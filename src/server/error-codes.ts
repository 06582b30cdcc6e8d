import type { ErrorTable } from "../errors.js";

/**
 * Error codes of server/: the HTTP faces (key broker API, quote explorer, PCS) and their configuration. `http` is
 * the status the server answers with: the key broker as problem+json (a code without one is 500 there), the
 * explorer as {ok: false, error} (a code without one is 400 there: the explorer's input is the caller's).
 */
export const SERVER_ERRORS = {
  EXPLORER_ASSETS_MISSING: {
    doc: "the explorer page's files, or the built in-page verifier (dist/server/explorer/local.js), are not there: reinstall or build",
    page: "explorer.md",
  },
  EXPLORER_BAD_API_URL: { doc: "`explorer build --api` is not an http(s) URL", page: "explorer.md" },
  EXPLORER_BAD_REQUEST: {
    http: 400,
    doc: "the explorer request is not JSON (or another client error)",
    page: "explorer.md",
  },
  EXPLORER_BAD_RESPONSE: {
    doc: "(in the page) the server answered without JSON: not a tdx-attest server?",
    page: "explorer.md",
  },
  EXPLORER_BAD_TIME: {
    http: 400,
    doc: "the explorer's `at` is neither unix seconds nor ISO 8601",
    page: "explorer.md",
  },
  EXPLORER_BODY_TOO_LARGE: {
    http: 413,
    doc: "the explorer request body is over its limit (4 MiB by default)",
    page: "explorer.md",
  },
  EXPLORER_COLLATERAL_UNAVAILABLE: {
    http: 503,
    doc: "the explorer's collateral source failed; the reason's code in the message and data.cause (the PCCS address stays in the log)",
    page: "explorer.md",
  },
  EXPLORER_INPUT_TOO_LARGE: {
    http: 400,
    doc: "the quote given to the explorer is over 1 MiB",
    page: "explorer.md",
  },
  EXPLORER_LOCAL_UNAVAILABLE: {
    doc: "(in the page) a static build's explorer/lib could not load, e.g. opened from file://",
    page: "explorer.md",
  },
  EXPLORER_NO_COLLATERAL: {
    http: 400,
    doc: "no collateral was uploaded and the explorer's server has no collateral source",
    page: "explorer.md",
  },
  EXPLORER_NO_QUOTE: { http: 400, doc: "the explorer request carries no quote", page: "explorer.md" },
  EXPLORER_REQUEST_TOO_DEEP: {
    http: 400,
    doc: "an explorer JSON body (or its collateral text) nests more than 32 levels",
    page: "explorer.md",
  },
  EXPLORER_SERVER_UNREACHABLE: {
    doc: "(in the page) the tdx-attest server cannot be reached",
    page: "explorer.md",
  },
  EXPLORER_UNKNOWN: { doc: "(in the page) a failure that came without an error object", page: "explorer.md" },
  EXPLORER_VERIFY_BODY: { http: 400, doc: "the /api/verify body is not a JSON object", page: "explorer.md" },
  INTERNAL: {
    http: 500,
    doc: "a bug in tdx-attest (the explorer's and the CLI's JSON answers); please report it with the input",
    page: "explorer.md",
  },
  KBS_ADMIN_DISABLED: {
    http: 401,
    doc: "an admin call, but no admin token or admin key is configured",
    page: "kbs.md",
  },
  KBS_ADMIN_TOKEN_REPLAYED: {
    http: 401,
    doc: "an admin JWT already used for a write (here or on another broker sharing the database) came again",
    page: "kbs.md",
  },
  KBS_ADMIN_TOKEN_WEAK: { doc: "an admin token shorter than 16 characters", page: "kbs.md" },
  KBS_ADMIN_UNAUTHENTICATED: {
    http: 401,
    doc: "the admin credential is missing or not accepted",
    page: "kbs.md",
  },
  KBS_CONFIG_INVALID: {
    doc: "a broker setting that cannot be used (named), e.g. an admin public key that can never verify; never ignored",
    page: "kbs.md",
  },
  KBS_COOKIE_INVALID: {
    http: 400,
    doc: "the kbs-session-id cookie is not valid percent-encoding",
    page: "kbs.md",
  },
  KBS_INTERNAL: {
    http: 500,
    doc: "a bug in the broker; its log has the details under the request id",
    page: "kbs.md",
  },
  KBS_KEK_WEAK: {
    doc: "a production broker's key-encryption key is weak (all bytes equal, or too few distinct bytes)",
    page: "kbs.md",
  },
  KBS_LISTEN_FAILED: {
    doc: "the broker cannot listen on its address (in use, not permitted)",
    page: "kbs.md",
  },
  KBS_LISTEN_INVALID: { doc: "the broker's --listen is not HOST:PORT", page: "kbs.md" },
  KBS_NOT_FOUND: { http: 404, doc: "no such route on the broker", page: "kbs.md" },
  KBS_PAYLOAD_TOO_LARGE: { http: 413, doc: "the request body is over the broker's limit", page: "kbs.md" },
  KBS_RATE_LIMITED: {
    http: 429,
    doc: "too many /auth or /attest from one address, or /attest on one session; Retry-After",
    page: "kbs.md",
  },
  KBS_REFERENCE_VALUES_UNSUPPORTED: {
    http: 501,
    doc: "/reference-value: this broker has no RVPS; the hint says where reference values go",
    page: "kbs.md",
  },
  KBS_REQUEST_TIMEOUT: { http: 408, doc: "the request did not arrive whole in time", page: "kbs.md" },
  KBS_REQUEST_TOO_DEEP: { http: 400, doc: "a JSON body nests more than 32 levels", page: "kbs.md" },
  KBS_SECRET_FILE_MODE: {
    doc: "a secret file (key-encryption key, admin token) is readable by others: chmod 600",
    page: "kbs.md",
  },
  KBS_UNSUPPORTED_MEDIA_TYPE: {
    http: 415,
    doc: "a body of a content type the route does not take",
    page: "kbs.md",
  },
  PCS_LISTEN_INVALID: { doc: "the PCS server's --listen is not HOST:PORT", page: "sim.md" },
} as const satisfies ErrorTable;
