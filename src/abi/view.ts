import { u16, u32 } from "./bytes.js";

/**
 * Lazily materialised field views. A parsed structure keeps (buffer, offset) and creates the
 * subarray for a field only when the field is read: creating dozens of typed-array views per quote
 * costs more than the rest of parsing together. Every field is still a view into the caller's
 * buffer (never a copy). Assigning a field stores the new value in the instance (for building
 * modified copies); serializers read fields through the same accessors.
 */
export type FieldKind = "bytes" | "u16" | "u32";
export type FieldSpec = readonly [name: string, offset: number, size: number, kind?: FieldKind];

export interface ViewBase {
  readonly _b: Uint8Array;
  readonly _o: number;
  _ov?: Record<string, unknown>;
}

export type ViewConstructor<T> = new (b: Uint8Array, o: number) => T & ViewBase;

export function defineView<T>(fields: readonly FieldSpec[]): ViewConstructor<T> {
  // Fields are assigned in the constructor, not declared as class fields: field initializers shared by
  // many view classes become megamorphic and cost more than the rest of parsing.
  class View {
    declare readonly _b: Uint8Array;
    declare readonly _o: number;
    declare _ov?: Record<string, unknown>;
    constructor(b: Uint8Array, o: number) {
      (this as { _b: Uint8Array })._b = b;
      (this as { _o: number })._o = o;
      this._ov = undefined;
    }
  }
  for (const [name, off, size, kind = "bytes"] of fields) {
    const read =
      kind === "u16"
        ? (v: View) => u16(v._b, v._o + off)
        : kind === "u32"
          ? (v: View) => u32(v._b, v._o + off)
          : (v: View) => v._b.subarray(v._o + off, v._o + off + size);
    Object.defineProperty(View.prototype, name, {
      enumerable: true,
      configurable: false,
      get(this: View) {
        const ov = this._ov;
        if (ov !== undefined && name in ov) return ov[name];
        return read(this);
      },
      set(this: View, value: unknown) {
        if (this._ov === undefined) this._ov = {};
        this._ov[name] = value;
      },
    });
  }
  return View as unknown as ViewConstructor<T>;
}

/** A plain object with the current value of every field of a view (for spreading or inspection). */
export function viewToPlain<T extends object>(view: T, fields: readonly FieldSpec[]): T {
  const out: Record<string, unknown> = {};
  for (const [name] of fields) out[name] = (view as Record<string, unknown>)[name];
  return out as T;
}
