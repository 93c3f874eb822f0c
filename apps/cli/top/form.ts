/** A small text form for the key dialogs: fields, the focused one, typed values. Kept apart from
 *  the view so the keystroke logic is plain data in, data out. Hand-written: ink-text-input is
 *  not installed here, and the forms need only typing, backspace and moving between fields. */
export interface FormField {
  name: string;
  label: string;
  value: string;
  /** 'number': digits only, empty = none; 'choice': space/←→ cycles through `choices`. */
  kind: 'text' | 'number' | 'choice';
  choices?: string[];
}

export interface FormState {
  title: string;
  fields: FormField[];
  focus: number;
  error?: string;
}

export interface FormKey {
  input: string;
  tab?: boolean;
  shift?: boolean;
  upArrow?: boolean;
  downArrow?: boolean;
  leftArrow?: boolean;
  rightArrow?: boolean;
  backspace?: boolean;
  delete?: boolean;
}

export function editForm(form: FormState, key: FormKey): FormState {
  // Pasted text (or keys sent together, as tmux does) arrives as one chunk: one key at a time.
  if (key.input.length > 1 && /[\t\x7f]/.test(key.input)) {
    return [...key.input].reduce(
      (state, char) => editForm(state, char === '\t' ? { input: '', tab: true } : char === '\x7f' ? { input: '', backspace: true } : { input: char }),
      form,
    );
  }
  const count = form.fields.length;
  if (key.tab || key.downArrow) return { ...form, focus: (form.focus + (key.shift ? count - 1 : 1)) % count };
  if (key.upArrow) return { ...form, focus: (form.focus + count - 1) % count };
  const field = form.fields[form.focus]!;
  let value = field.value;
  if (field.kind === 'choice') {
    const choices = field.choices ?? [];
    if (key.input === ' ' || key.rightArrow || key.leftArrow) {
      const step = key.leftArrow ? choices.length - 1 : 1;
      value = choices[(choices.indexOf(value) + step) % choices.length]!;
    }
  } else if (key.backspace || key.delete) {
    value = value.slice(0, -1);
  } else if (key.input && !/[\x00-\x1f]/.test(key.input)) {
    const typed = field.kind === 'number' ? key.input.replace(/[^0-9]/g, '') : key.input;
    value += typed;
  }
  if (value === field.value) return form;
  const fields = form.fields.map((candidate, index) => (index === form.focus ? { ...candidate, value } : candidate));
  return { ...form, fields, error: undefined };
}

export function formValues(form: FormState): Record<string, string> {
  return Object.fromEntries(form.fields.map((field) => [field.name, field.value]));
}

/** A number field's value for the API: null when empty (no limit). */
export function limitValue(text: string): number | null {
  return text.trim() === '' ? null : Number(text);
}
