/**
 * The KBS attestation protocol version the broker and its client speak (exact match, as Trustee requires).
 * Its own module so the client (and the package root through it) does not load the broker's service.
 */
export const KBS_PROTOCOL_VERSION = "0.4.0";
