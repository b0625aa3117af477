// The integrity panel of an event's detail: the hook for the sealed log (issue 11). Once the service
// serves inclusion proofs and signed checkpoints, this module fetches the event's proof and verifies
// it and the checkpoint's signature in the browser with WebCrypto (ECDSA P-256, SHA-256), and
// returns the panel that says what was verified.
//
// There is no sealed log yet, so there is nothing to verify and nothing is shown: claiming a result
// that was never computed would be worse than showing none.

/** The panel for `log`'s detail, or null when there is nothing verified to show. */
export function integrityPanel(_log) {
  return null;
}
