import { describe, expect, it } from "vitest";
import { TCB_STATUSES } from "../../src/collateral/tcb-info.js";
import { convergeWithModule, convergeWithQe, relaunchAdvice } from "../../src/verify/status.js";

/** Intel's merge tables (QVL TcbLevelCheck.cpp / TdxModuleCheck.cpp / TDRelaunchCheck.cpp), quote-verify.md §2.6. */

describe("convergeWithQe (convergeTcbStatusWithQeTcbStatus)", () => {
  it("an up-to-date QE leaves every platform status as it is", () => {
    for (const s of TCB_STATUSES) expect(convergeWithQe(s, "UpToDate")).toBe(s);
  });
  it("an out-of-date QE: Intel's table, not a severity maximum", () => {
    expect(convergeWithQe("UpToDate", "OutOfDate")).toBe("OutOfDate");
    expect(convergeWithQe("SWHardeningNeeded", "OutOfDate")).toBe("OutOfDate");
    expect(convergeWithQe("ConfigurationNeeded", "OutOfDate")).toBe("OutOfDateConfigurationNeeded");
    expect(convergeWithQe("ConfigurationAndSWHardeningNeeded", "OutOfDate")).toBe(
      "OutOfDateConfigurationNeeded",
    );
    expect(convergeWithQe("OutOfDate", "OutOfDate")).toBe("OutOfDate");
    expect(convergeWithQe("OutOfDateConfigurationNeeded", "OutOfDate")).toBe("OutOfDateConfigurationNeeded");
    expect(convergeWithQe("TDRelaunchAdvised", "OutOfDate")).toBe("TDRelaunchAdvised");
  });
  it("a revoked QE revokes everything", () => {
    for (const s of TCB_STATUSES) expect(convergeWithQe(s, "Revoked")).toBe("Revoked");
  });
});

describe("convergeWithModule (convergeTcbStatusWithTdxModuleStatus)", () => {
  it("follows Intel's table", () => {
    expect(convergeWithModule("UpToDate", "UpToDate")).toBe("UpToDate");
    expect(convergeWithModule("UpToDate", "OutOfDate")).toBe("OutOfDate");
    expect(convergeWithModule("SWHardeningNeeded", "OutOfDate")).toBe("OutOfDate");
    expect(convergeWithModule("ConfigurationNeeded", "OutOfDate")).toBe("OutOfDateConfigurationNeeded");
    expect(convergeWithModule("ConfigurationAndSWHardeningNeeded", "OutOfDate")).toBe(
      "OutOfDateConfigurationNeeded",
    );
    expect(convergeWithModule("OutOfDate", "OutOfDate")).toBe("OutOfDate");
    for (const s of TCB_STATUSES) expect(convergeWithModule(s, "Revoked")).toBe("Revoked");
  });
});

describe("relaunchAdvice (checkForRelaunch, TD 1.5)", () => {
  const base = {
    qeStatus: "UpToDate" as const,
    sgxStatus: "UpToDate" as const,
    tdxStatus: "OutOfDate" as const,
    moduleStatus: "OutOfDate" as const,
    latestTdxComponents: [5, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    latestModuleIsvSvn: (major: number) => (major === 1 ? 6 : undefined),
  };
  it("advises a relaunch when the already-loaded module (TEE_TCB_SVN2) is current", () => {
    const svn2 = Uint8Array.from([6, 1, 3, ...new Array(13).fill(0)]);
    expect(relaunchAdvice({ ...base, teeTcbSvn2: svn2 })).toBe("TDRelaunchAdvised");
    expect(relaunchAdvice({ ...base, sgxStatus: "ConfigurationNeeded", teeTcbSvn2: svn2 })).toBe(
      "TDRelaunchAdvisedConfigurationNeeded",
    );
  });
  it("does not when the update is not loaded yet, or the QE or module status rules it out", () => {
    const old = Uint8Array.from([5, 1, 3, ...new Array(13).fill(0)]);
    expect(relaunchAdvice({ ...base, teeTcbSvn2: old })).toBeNull();
    const current = Uint8Array.from([6, 1, 3, ...new Array(13).fill(0)]);
    expect(relaunchAdvice({ ...base, qeStatus: "OutOfDate", teeTcbSvn2: current })).toBeNull();
    expect(relaunchAdvice({ ...base, moduleStatus: "UpToDate", teeTcbSvn2: current })).toBeNull();
    expect(relaunchAdvice({ ...base, tdxStatus: "UpToDate", teeTcbSvn2: current } as never)).toBeNull();
  });
  it("a module version TCB Info does not list is Intel's TDX_MODULE_MISMATCH", () => {
    const svn2 = Uint8Array.from([6, 2, 3, ...new Array(13).fill(0)]);
    expect(relaunchAdvice({ ...base, teeTcbSvn2: svn2 })).toBe("ModuleMismatch");
  });
  it("TEE_TCB_SVN2[1] = 0 compares against the latest TCB level's TDX components", () => {
    expect(
      relaunchAdvice({ ...base, teeTcbSvn2: Uint8Array.from([5, 0, 3, ...new Array(13).fill(0)]) }),
    ).toBe("TDRelaunchAdvised");
    expect(
      relaunchAdvice({ ...base, teeTcbSvn2: Uint8Array.from([5, 0, 2, ...new Array(13).fill(0)]) }),
    ).toBeNull();
  });
});
