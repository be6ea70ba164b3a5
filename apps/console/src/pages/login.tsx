import { useState } from 'preact/hooks';

/** Asks for a bearer token (the same as the CLI's MUSTER_TOKEN); shows nothing of the hub. */
export function Login({ onToken }: { onToken: (token: string) => Promise<boolean> }) {
  const [value, setValue] = useState('');
  const [refused, setRefused] = useState(false);
  return (
    <form
      class="login"
      data-testid="login"
      onSubmit={(e) => {
        e.preventDefault();
        void onToken(value.trim()).then((ok) => setRefused(!ok));
      }}
    >
      <h1>Muster</h1>
      <label>
        Token
        <input
          type="password"
          name="token"
          autocomplete="off"
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
      </label>
      <button type="submit">Sign in</button>
      {refused && <p class="error">The hub did not accept this token.</p>}
      <p class="muted">The token stays in this tab only (session storage).</p>
    </form>
  );
}
