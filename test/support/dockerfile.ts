// A Dockerfile reader for tests, enough for this project's own Dockerfile: comments and parser
// directives dropped, `\` continuations joined, leading `--flag=value`s split off, stages cut
// at FROM. Not a general parser (no heredocs, no escape directive, no ARG expansion).

export interface Instruction {
  /** Upper-cased: RUN, COPY, CMD… */
  readonly keyword: string;
  /** The leading `--name=value` options (`--from`, `--mount`, `--chown`, `--interval`…). */
  readonly flags: Readonly<Record<string, string>>;
  /** What follows the keyword and its flags. */
  readonly body: string;
}

export interface Stage {
  readonly image: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

/** The stages of `text`, in order; instructions before the first FROM are refused. */
export function parseDockerfile(text: string): Stage[] {
  const stages: { image: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const line of logicalLines(text)) {
    const instruction = parseInstruction(line);
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.body.split(/\s+/);
      stages.push({ image: image!, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else if (stages.length === 0) {
      throw new Error(`${instruction.keyword} before the first FROM`);
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** An exec-form argument list (`["node", "dist/main.js"]`), or undefined for the shell form. */
export function execForm(body: string): string[] | undefined {
  if (!body.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(body);
  return Array.isArray(parsed) && parsed.every((arg) => typeof arg === 'string') ? parsed : undefined;
}

/** Every `ENV` of a stage, both `NAME=value …` and the legacy `NAME value` form; quotes removed. */
export function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { body } of stage.instructions.filter((i) => i.keyword === 'ENV')) {
    if (!/^\S+=/.test(body)) {
      const [name, ...value] = body.split(/\s+/);
      env[name!] = value.join(' ');
      continue;
    }
    for (const [, name, value] of body.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)) {
      env[name!] = value!.replace(/^"(.*)"$/, '$1');
    }
  }
  return env;
}

function logicalLines(text: string): string[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (pending !== '' && line.startsWith('#')) continue; // comments inside a continued instruction
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
    } else {
      lines.push(`${pending}${line}`.trim());
      pending = '';
    }
  }
  if (pending !== '') lines.push(pending.trim());
  return lines;
}

function parseInstruction(line: string): Instruction {
  const [keyword, ...words] = line.split(/\s+/);
  const flags: Record<string, string> = {};
  let rest = line.slice(keyword!.length).trim();
  for (const word of words) {
    const flag = /^--([a-z-]+)=(\S+)$/.exec(word);
    if (!flag) break;
    flags[flag[1]!] = flag[2]!;
    rest = rest.slice(word.length).trim();
  }
  return { keyword: keyword!.toUpperCase(), flags, body: rest };
}
