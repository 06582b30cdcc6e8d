import { bytesEqual, toHex } from "../abi/bytes.js";
import {
  parseTpmsAttest,
  selectedPcrs,
  TPM_GENERATED_VALUE,
  TPM_ST,
  type TpmsAttest,
  tpmAlgName,
  tpmAttestTypeName,
  tpmDigestSize,
} from "../abi/tpm2.js";
import { diagnoseRsaPkcs1Sha256, type RsaJwk } from "../crypto/rsa-jwk.js";
import type { EvidenceFacts } from "./az-tdx-vtpm-evidence.js";
import {
  AZ_INIT_DATA_PCR,
  type AzTdxVtpmOptions,
  type AzTdxVtpmResult,
  type Backend,
  nonceBytes,
  printable,
  type Run,
} from "./az-tdx-vtpm-run.js";

/**
 * Steps 7-13 of az-tdx-vtpm: the TPM quote signed by the attestation key, the TPMS_ATTEST, the nonce, v2's
 * user-data, the PCR selection and digest, and init data (kinvolk azure-cvm-tooling `vtpm/verify.rs`,
 * Trustee `az_snp_vtpm/mod.rs`).
 */
export function tpmChecks(
  run: Run,
  result: AzTdxVtpmResult,
  options: AzTdxVtpmOptions,
  backend: Backend,
  { ev, varData, ak, akBits }: EvidenceFacts,
): void {
  // 7. The TPM quote is signed by the AK (RSASSA-PKCS1-v1_5, SHA-256; kinvolk `verify_signature`).
  const { message, signature } = ev.tpmQuote;
  if (!backend.rsa(ak as RsaJwk, message, signature)) {
    const why = diagnoseRsaPkcs1Sha256(ak as RsaJwk, backend.crypto.sha256(message), signature);
    if (why === "digest-mismatch") {
      run.fail(
        "tpm.signature",
        "AZ_TPM_MESSAGE_ALTERED",
        "the attestation key signed the TPM quote, but not this message: the TPMS_ATTEST was altered after signing",
        "collect the evidence again; the TPM quote message must be passed exactly as the TPM produced it",
        { field: "tpm_quote.message" },
      );
    }
    run.fail(
      "tpm.signature",
      "AZ_TPM_SIGNATURE_INVALID",
      "the TPM quote signature is not an RSASSA-PKCS1-v1_5/SHA-256 signature by the HCL attestation key",
      "the signature was altered, or another key made it (a TPM quote from another VM, or a forged one)",
      {
        field: "tpm_quote.signature",
        expected: `${Math.ceil(akBits / 8)} bytes`,
        actual: `${signature.length} bytes`,
      },
    );
  }
  run.pass("tpm.signature", { actual: "RSASSA-PKCS1-v1_5 SHA-256 by HCLAkPub" });

  // 8. The TPMS_ATTEST: a TPM-generated quote.
  let attest: TpmsAttest;
  try {
    attest = parseTpmsAttest(message);
  } catch (e) {
    run.failWith("tpm.attest.parse", e);
  }
  result.tpmAttest = attest;
  result.nonce = toHex(attest.extraData);
  run.pass("tpm.attest.parse", { actual: { size: message.length, type: tpmAttestTypeName(attest.type) } });
  if (attest.magic !== TPM_GENERATED_VALUE) {
    run.fail(
      "tpm.attest.magic",
      "AZ_TPM_NOT_GENERATED",
      `the TPMS_ATTEST magic is 0x${attest.magic.toString(16)}, not TPM_GENERATED_VALUE (0xff544347)`,
      "a TPM signs only structures it generated; this message is not a TPM quote",
      { expected: "ff544347", actual: attest.magic.toString(16).padStart(8, "0"), data: { offset: 0 } },
    );
  }
  run.pass("tpm.attest.magic", { actual: "ff544347" });
  if (attest.type !== TPM_ST.ATTEST_QUOTE || attest.quote === null) {
    run.fail(
      "tpm.attest.type",
      "AZ_TPM_NOT_A_QUOTE",
      `the TPMS_ATTEST is ${tpmAttestTypeName(attest.type)}, not ATTEST_QUOTE`,
      "the evidence must carry a TPM2_Quote over the PCRs",
      { expected: "ATTEST_QUOTE", actual: tpmAttestTypeName(attest.type), data: { offset: 4 } },
    );
  }
  const quoteInfo = attest.quote;
  run.pass("tpm.attest.type", { actual: "ATTEST_QUOTE" });

  // 9. Freshness: extraData is the expected nonce, exactly (Trustee `verify_tpm_nonce`).
  const nonce = nonceBytes(options.nonce);
  const actualNonce = { hex: toHex(attest.extraData), text: printable(attest.extraData) };
  if (nonce === null) {
    run.fail(
      "tpm.nonce",
      "AZ_NONCE_MISSING",
      "no expected nonce was given, so the evidence's freshness cannot be checked",
      "pass the nonce the relying party handed to the guest (CLI: --nonce TEXT or --nonce-hex HEX)",
      { actual: actualNonce },
    );
  }
  if (!bytesEqual(attest.extraData, nonce)) {
    run.fail(
      "tpm.nonce",
      "AZ_NONCE_MISMATCH",
      "the TPM quote's nonce (extraData) is not the expected one",
      "the evidence was made for another challenge (replayed or stale); ask the guest for fresh evidence",
      { expected: { hex: toHex(nonce), text: printable(nonce) }, actual: actualNonce, data: { offset: 0 } },
    );
  }
  run.pass("tpm.nonce", { expected: { hex: toHex(nonce), text: printable(nonce) }, actual: actualNonce });

  // 10. v2: the HCL user-data begins with the nonce (Trustee compares this prefix only).
  if (ev.version >= 2) {
    if (varData.userData === null) {
      run.fail(
        "hcl.userData",
        "AZ_USER_DATA_MISSING",
        "v2 evidence without `user-data` in the HCL var data",
        "a v2 attester writes the report data to NV index 0x01400002 before reading the HCL report",
      );
    }
    if (!bytesEqual(varData.userData.subarray(0, nonce.length), nonce)) {
      run.fail(
        "hcl.userData",
        "AZ_USER_DATA_MISMATCH",
        "the HCL var data's user-data does not begin with the expected nonce",
        "the HCL report was taken for another request; collect the evidence again (write the nonce, then read the report)",
        { expected: toHex(nonce), actual: varData.userDataHex, field: "hclReport.variableData.user-data" },
      );
    }
    run.pass("hcl.userData", { expected: `begins with ${toHex(nonce)}`, actual: varData.userDataHex });
  }

  // 11. The PCR values supplied are the ones selected (stricter: Trustee hashes whatever list it gets).
  const pcrs = ev.tpmQuote.pcrs;
  const slots: { bank: number; index: number }[] = [];
  for (const sel of quoteInfo.pcrSelect)
    for (const index of selectedPcrs(sel)) slots.push({ bank: sel.hash, index });
  const selText = quoteInfo.pcrSelect
    .map((s) => `${tpmAlgName(s.hash)}:${selectedPcrs(s).join(",")}`)
    .join(" ");
  const badSize = slots.findIndex(
    (s, i) => pcrs[i] !== undefined && pcrs[i]!.length !== tpmDigestSize(s.bank),
  );
  if (slots.length === 0 || slots.length !== pcrs.length || badSize >= 0) {
    run.fail(
      "tpm.pcrSelection",
      "AZ_PCR_SELECTION_MISMATCH",
      slots.length === 0
        ? "the TPM quote selects no PCR"
        : badSize >= 0
          ? `PCR value ${badSize} has ${pcrs[badSize]!.length} bytes; its bank ${tpmAlgName(slots[badSize]!.bank)} has ${tpmDigestSize(slots[badSize]!.bank) ?? "unknown-size"} digests`
          : `the TPM quote selects ${slots.length} PCRs (${selText}) but the evidence supplies ${pcrs.length} values`,
      "supply exactly the PCR values the quote selects, in its order (Azure: SHA-256 bank, PCRs 0..23)",
      { expected: selText, actual: `${pcrs.length} values`, field: "tpm_quote.pcrs" },
    );
  }
  // Trustee's verifier reads every PCR value as 32 bytes (az_tdx_vtpm get_pcrs: "Invalid PCR length, expected
  // 32 bytes"; kinvolk az-cvm-vtpm Quote.pcrs is Vec<[u8; 32]>): the SHA-256 bank only.
  const otherBank = slots.find((s) => tpmDigestSize(s.bank) !== 32);
  if (otherBank) {
    run.fail(
      "tpm.pcrSelection",
      "AZ_PCR_SELECTION_MISMATCH",
      `the TPM quote selects PCRs of the ${tpmAlgName(otherBank.bank)} bank; Azure's vTPM evidence is read as SHA-256 PCRs only (Trustee refuses others)`,
      "quote the SHA-256 bank (Azure: PCRs 0..23)",
      { expected: "sha256", actual: selText, field: "tpm_quote.pcrs" },
    );
  }
  result.pcrs = slots.map((s, i) => ({ bank: tpmAlgName(s.bank), index: s.index, value: toHex(pcrs[i]!) }));
  run.pass("tpm.pcrSelection", { expected: selText, actual: `${pcrs.length} values` });

  // 12. The PCR values hash to the quote's pcrDigest (SHA-256, the AK's scheme hash; kinvolk `verify_pcrs`).
  const digest = backend.crypto.sha256(...pcrs);
  if (!bytesEqual(digest, quoteInfo.pcrDigest)) {
    run.fail(
      "tpm.pcrDigest",
      "AZ_PCR_DIGEST_MISMATCH",
      "SHA-256 of the supplied PCR values is not the TPM quote's pcrDigest",
      "a PCR value was altered, or a PCR was extended between TPM2_Quote and TPM2_PCR_Read; collect the evidence again",
      { expected: toHex(quoteInfo.pcrDigest), actual: toHex(digest), field: "tpm_quote.pcrs" },
    );
  }
  run.pass("tpm.pcrDigest", { expected: toHex(quoteInfo.pcrDigest), actual: toHex(digest) });

  // 13. Init data: one extend of the expected digest into a zero PCR 8 (Trustee `verify_init_data`).
  if (options.initDataHash !== undefined) {
    const want = backend.crypto.sha256(new Uint8Array(32), options.initDataHash);
    const i = slots.findIndex((s) => s.index === AZ_INIT_DATA_PCR && tpmDigestSize(s.bank) === 32);
    const have = i >= 0 ? pcrs[i]! : null;
    if (options.initDataHash.length !== 32 || have === null || !bytesEqual(have, want)) {
      run.fail(
        "tpm.initData",
        "AZ_INIT_DATA_MISMATCH",
        options.initDataHash.length !== 32
          ? `the expected init-data digest is ${options.initDataHash.length} bytes, not 32`
          : have === null
            ? "the TPM quote does not cover PCR 8 of a SHA-256 bank"
            : "PCR 8 is not SHA-256(32 zero bytes || the expected init-data digest)",
        "the TD was started with other init data (or none); check the init data the guest measured",
        { expected: toHex(want), actual: have ? toHex(have) : null, field: "tpm_quote.pcrs[8]" },
      );
    }
    run.pass("tpm.initData", { expected: toHex(want), actual: toHex(have) });
  }
}
