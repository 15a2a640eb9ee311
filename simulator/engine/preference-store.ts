/*
 * The simulated device's non-volatile preferences: a JSON file per device,
 * replaced atomically on every change so a killed simulator never leaves a
 * half-written file (the NVS partition of a board is likewise power-safe).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export type PreferenceValue = boolean | number | string | Uint8Array;

interface Stored {
  type: "boolean" | "integer" | "string" | "buffer";
  value: boolean | number | string;
}

export class PreferenceStore {
  private readonly values = new Map<string, Stored>();
  private readonly file: string | undefined;

  /** Without a file the preferences live only as long as the process (a fresh board every run). */
  constructor(file?: string) {
    this.file = file;
    if (!file) return;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    const parsed = JSON.parse(text) as Record<string, Stored>;
    for (const [name, stored] of Object.entries(parsed)) this.values.set(name, stored);
  }

  get(domain: string, key: string): PreferenceValue | undefined {
    const stored = this.values.get(`${domain}/${key}`);
    if (!stored) return undefined;
    return stored.type === "buffer" ? new Uint8Array(Buffer.from(stored.value as string, "base64")) : stored.value;
  }

  set(domain: string, key: string, value: PreferenceValue): void {
    const stored: Stored = typeof value === "boolean" ? { type: "boolean", value }
      : typeof value === "number" ? { type: "integer", value }
      : typeof value === "string" ? { type: "string", value }
      : { type: "buffer", value: Buffer.from(value).toString("base64") };
    this.values.set(`${domain}/${key}`, stored);
    this.save();
  }

  delete(domain: string, key: string): boolean {
    const existed = this.values.delete(`${domain}/${key}`);
    if (existed) this.save();
    return existed;
  }

  /** Every value, as [domain, key, value]. */
  all(): Array<[string, string, PreferenceValue]> {
    return [...this.values.keys()].map((name) => {
      const at = name.indexOf("/");
      const [domain, key] = [name.slice(0, at), name.slice(at + 1)];
      return [domain, key, this.get(domain, key)!];
    });
  }

  keys(domain: string): string[] {
    const prefix = `${domain}/`;
    return [...this.values.keys()].filter((name) => name.startsWith(prefix)).map((name) => name.slice(prefix.length));
  }

  private save(): void {
    if (!this.file) return;
    mkdirSync(dirname(this.file), { recursive: true });
    const temporary = `${this.file}.tmp`;
    writeFileSync(temporary, JSON.stringify(Object.fromEntries(this.values)));
    renameSync(temporary, this.file);
  }
}
