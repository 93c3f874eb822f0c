/** Whether `text` is the start of some valid JSON document: the check for grammar-constrained
 *  output that stopped at max_tokens. It closes whatever is open (string, literal, number, key
 *  awaiting a value, containers) and asks JSON.parse. Written here because the partial-JSON
 *  parsers on npm are lenient: they accept malformed input such as `{"a":: 1`. */
export function isJsonPrefix(text: string): boolean {
  const stack: ('{' | '[')[] = [];
  let inString = false;
  let escaped = false;
  let stringIsKey = false;
  let expectingKey = false; // just after '{' or ',' inside an object
  for (const char of text) {
    if (inString) {
      if (escaped) escaped = false;
      else if (char === '\\') escaped = true;
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') {
      inString = true;
      stringIsKey = expectingKey;
      expectingKey = false;
    } else if (char === '{' || char === '[') {
      stack.push(char);
      expectingKey = char === '{';
    } else if (char === '}' || char === ']') {
      stack.pop();
      expectingKey = false;
    } else if (char === ',') {
      expectingKey = stack.at(-1) === '{';
    } else if (char === ':') {
      stringIsKey = false;
    }
  }
  let completed = text;
  if (inString) {
    // Drop an unfinished escape (\ or \u12) before closing the string.
    completed = completed.replace(/\\(u[0-9a-fA-F]{0,3})?$/, '') + '"';
    if (stringIsKey) completed += ':null';
  } else {
    const trimmed = completed.trimEnd();
    const last = trimmed.at(-1);
    if (last === ':') completed += 'null';
    else if (last === ',') completed += stack.at(-1) === '{' ? '"k":null' : 'null';
    else if (last === '"' && stringIsKey) completed += ':null';
    else {
      const tail = /(-|\d+\.|\d[eE][+-]?|t|tr|tru|f|fa|fal|fals|n|nu|nul)$/.exec(trimmed)?.[0];
      if (tail !== undefined) completed = trimmed + completeLiteral(tail);
    }
  }
  for (const open of stack.reverse()) completed += open === '{' ? '}' : ']';
  try {
    JSON.parse(completed);
    return true;
  } catch {
    return false;
  }
}

function completeLiteral(tail: string): string {
  for (const word of ['true', 'false', 'null']) if (word.startsWith(tail)) return word.slice(tail.length);
  return '0'; // a number that ends in '-', '.', 'e' or 'e+'
}
