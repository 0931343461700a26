// JSON text built member by member, so a member can repeat, a name can be escaped, and a value
// can be a literal JSON.stringify cannot write (1e309, -0, 99999999999999999999999).

export class JsonText {
  private members: [string, string][];

  constructor(members: [string, string][]) {
    this.members = members;
  }

  static of(value: Record<string, unknown>): JsonText {
    return new JsonText(Object.entries(value).map(([name, v]) => [JSON.stringify(name), JSON.stringify(v)]));
  }

  /** Replaces every member `name` (or appends it) with the value written as `literal`. */
  set(name: string, literal: string): this {
    const key = JSON.stringify(name);
    const at = this.members.findIndex(([n]) => n === key);
    if (at === -1) {
      this.members.push([key, literal]);
      return this;
    }
    this.members = this.members.filter(([n], i) => n !== key || i <= at); // later repeats go; `at` stays put
    this.members[at] = [key, literal];
    return this;
  }

  remove(name: string): this {
    this.members = this.members.filter(([n]) => n !== JSON.stringify(name));
    return this;
  }

  /** Appends a member with a name written exactly as `rawName` (quotes included). */
  append(rawName: string, literal: string): this {
    this.members.push([rawName, literal]);
    return this;
  }

  has(name: string): boolean {
    return this.members.some(([n]) => n === JSON.stringify(name));
  }

  text(space = false): string {
    const sep = space ? ' ,\n\t' : ',';
    return `{${this.members.map(([n, v]) => `${n}:${space ? ' ' : ''}${v}`).join(sep)}}`;
  }
}
