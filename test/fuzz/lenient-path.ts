// How a forgiving upstream might read a forwarded path: percent-decoded (`rounds` times), `\` as
// `/`, `;params` cut, trailing dots and spaces trimmed (IIS), optionally NFKC (full-width dots),
// dot segments resolved, case folded. A path the gateway forwarded under a route must still be
// under that route's forwarded prefix when read this way.

export function lenientSegments(path: string, options: { rounds: number; nfkc: boolean }): string[] {
  let text = path.split('?')[0] ?? '';
  for (let round = 0; round < options.rounds; round++) text = decodeLeniently(text);
  if (options.nfkc) text = text.normalize('NFKC');
  const out: string[] = [];
  for (let segment of text.replace(/\\/g, '/').split('/')) {
    const semicolon = segment.indexOf(';');
    if (semicolon !== -1) segment = segment.slice(0, semicolon);
    if (segment !== '.' && segment !== '..') segment = segment.replace(/[. ]+$/, '');
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment.toLowerCase());
  }
  return out;
}

function decodeLeniently(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const hex = text.slice(i + 1, i + 3);
    if (text[i] === '%' && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      for (const byte of Buffer.from(text[i]!, 'utf8')) bytes.push(byte);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** True when `segments` starts with every one of `prefix`. */
export function startsWithSegments(segments: readonly string[], prefix: readonly string[]): boolean {
  return prefix.every((segment, i) => segments[i] === segment);
}
