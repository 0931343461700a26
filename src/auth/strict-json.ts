// CONTRACT "How a token is read": a JOSE header or payload whose JSON repeats a
// member name is malformed. JSON.parse silently keeps the last duplicate and
// jose decodes with JSON.parse too; no maintained library reports duplicates
// without building a second parse tree, so this small scanner does only that.

/** Parses a JSON object, refusing duplicate member names at any depth. Returns undefined when invalid. */
export function parseJsonObjectStrict(text: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return hasDuplicateMember(text) ? undefined : (value as Record<string, unknown>);
}

const QUOTE = 34; // "
const BACKSLASH = 92;
const OPEN_OBJECT = 123; // {
const CLOSE_OBJECT = 125; // }
const OPEN_ARRAY = 91; // [
const CLOSE_ARRAY = 93; // ]
const COLON = 58;

/** Assumes `text` is valid JSON (checked by JSON.parse first). */
export function hasDuplicateMember(text: string): boolean {
  // One entry per open container: a Set of member names for objects, null for arrays.
  const stack: (Set<string> | null)[] = [];
  let pendingKey: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const start = i;
      for (i++; text.charCodeAt(i) !== QUOTE; i++) if (text.charCodeAt(i) === BACKSLASH) i++;
      pendingKey = text.slice(start, i + 1);
    } else if (c === COLON) {
      const members = stack[stack.length - 1];
      // Compare decoded names: "a" and "\u0061" are the same member.
      const name = JSON.parse(pendingKey as string) as string;
      if (members) {
        if (members.has(name)) return true;
        members.add(name);
      }
    } else if (c === OPEN_OBJECT) stack.push(new Set());
    else if (c === OPEN_ARRAY) stack.push(null);
    else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) stack.pop();
  }
  return false;
}
