import { useEffect, useRef } from 'preact/hooks';

/** A modal confirmation (native <dialog>: focus is trapped and Escape cancels). */
export function Confirm(props: { title: string; body: string; action: string; onConfirm: () => void; onCancel: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    dialog.current?.showModal();
  }, []);
  return (
    <dialog ref={dialog} aria-labelledby="confirm-title" onCancel={props.onCancel} onClose={props.onCancel}>
      <h2 id="confirm-title">{props.title}</h2>
      <p>{props.body}</p>
      <div class="row end">
        <button type="button" class="secondary" onClick={props.onCancel} autofocus>Cancel</button>
        <button type="button" class="danger" onClick={props.onConfirm}>{props.action}</button>
      </div>
    </dialog>
  );
}
