import { useState } from 'preact/hooks';
import { ApiFailure, signIn, type SessionState } from './api';

export function SignIn(props: { onSignedIn: (session: SessionState) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await signIn(key.trim());
      setKey('');
      props.onSignedIn(session);
    } catch (failure) {
      const status = failure instanceof ApiFailure ? failure.status : 0;
      setError(
        status === 401
          ? 'That key was not accepted. Paste the admin key (from <data-dir>/admin.key or LLMSVC_ADMIN_KEY).'
          : failure instanceof Error
            ? failure.message
            : String(failure),
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="signin">
      <form onSubmit={submit} class="card" aria-labelledby="signin-title">
        <h1 id="signin-title">llmsvc console</h1>
        <label for="admin-key">Admin key</label>
        <input
          id="admin-key"
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={key}
          onInput={(event) => setKey((event.target as HTMLInputElement).value)}
          aria-invalid={error ? 'true' : undefined}
          aria-describedby={error ? 'signin-error' : 'signin-hint'}
          required
          autofocus
        />
        {error ? (
          <p id="signin-error" role="alert" class="error">{error}</p>
        ) : (
          <p id="signin-hint" class="hint">The key is exchanged for a session cookie; this page does not keep it.</p>
        )}
        <button type="submit" disabled={busy}>Sign in</button>
      </form>
    </main>
  );
}
