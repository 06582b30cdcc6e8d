import { describe, expect, it } from "vitest";
import { checkResourcePath } from "../../src/kbs/service.js";

// Trustee's ResourceDesc (plugins/implementations/resource/backend.rs): each segment
// [a-zA-Z0-9_-]+[a-zA-Z0-9_.-]*; its own test takes 123--_default/1Abff-_/___-afds44BC.
describe("resource paths as Trustee names them", () => {
  it.each(["default/disk/key", "123--_default/1Abff-_/___-afds44BC", "default/_key/1", "default/-key/v1.2"])(
    "takes %s",
    (path) => expect(checkResourcePath(path)).toBe(path),
  );
  it.each([
    "default/../key",
    "default/./key",
    "default/.hidden/key",
    "default/disk",
    "default/disk/key/extra",
    "default//key",
    "default/disk key/x",
    `default/${"a".repeat(129)}/key`,
  ])("refuses %s", (path) =>
    expect(() => checkResourcePath(path)).toThrowError(
      expect.objectContaining({ code: "KBS_RESOURCE_PATH_INVALID" }),
    ),
  );
});
