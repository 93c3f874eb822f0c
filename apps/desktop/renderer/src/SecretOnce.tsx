import { useRef, useState } from 'preact/hooks';

/** A new key's secret, shown once: the server keeps only its hash. */
export function SecretOnce(props: { name: string; secret: string; onDone: () => void }) {
  const field = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState(false);

  async function copy() {
    // The Clipboard API exists only in secure contexts (https or localhost); a LAN http page
    // falls back to selecting the text and the older copy command.
    try {
      await navigator.clipboard.writeText(props.secret);
    } catch {
      field.current?.select();
      document.execCommand('copy');
    }
    setCopied(true);
  }

  return (
    <section class="card secret" role="status" aria-labelledby="secret-title">
      <h2 id="secret-title">Secret for “{props.name}”</h2>
      <p>Copy it now: it is shown only this once.</p>
      <div class="row">
        <label for="new-secret" class="visually-hidden">New key secret</label>
        <input id="new-secret" ref={field} readOnly value={props.secret} class="mono" onFocus={(event) => (event.target as HTMLInputElement).select()} />
        <button type="button" onClick={copy}>{copied ? 'Copied' : 'Copy'}</button>
        <button type="button" class="secondary" onClick={props.onDone}>Done</button>
      </div>
    </section>
  );
}
