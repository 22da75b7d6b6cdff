/* One way for OpenSSL to call back into Python.
 *
 * An OpenSSL call that may call back into Python (a connection's handshake,
 * read, write or shutdown; loading a password-protected key) runs with the
 * GIL released: tlsctx_release_gil() saves the thread state in a frame that
 * lives on the caller's C stack and is linked into this OS thread's chain of
 * such calls.  A callback (password, SNI, PSK, key log, a BIO written in
 * Python) brackets its Python code with tlsctx_callback_enter() and
 * tlsctx_callback_leave(): they restore that very thread state, so the
 * callback runs in the interpreter that made the call (PyGILState_Ensure
 * would pick the main interpreter's), and save it again.  Called where the
 * GIL is already held (no frame, or the innermost frame's GIL taken back by
 * an outer callback), they do nothing.
 *
 * The chain is also what tells re-entry apart: a connection found in this
 * thread's chain is inside an OpenSSL call further up the stack.
 *
 * Free-threaded builds: the chain is per OS thread and needs no lock. */
#include "_tlsctx.h"

static _Thread_local tlsctx_call_frame *innermost;

void
tlsctx_release_gil(tlsctx_call_frame *frame, const void *owner)
{
    frame->owner = owner;
    frame->outer = innermost;
    innermost = frame;
    frame->saved = PyEval_SaveThread();
}

void
tlsctx_restore_gil(tlsctx_call_frame *frame)
{
    assert(innermost == frame);
    PyThreadState *ts = frame->saved;
    frame->saved = NULL;
    if (ts != NULL) {
        PyEval_RestoreThread(ts);
    }
    innermost = frame->outer;
}

tlsctx_call_frame *
tlsctx_callback_enter(void)
{
    tlsctx_call_frame *frame = innermost;
    if (frame == NULL || frame->saved == NULL) {
        return NULL;   /* the GIL is held */
    }
    PyThreadState *ts = frame->saved;
    frame->saved = NULL;
    PyEval_RestoreThread(ts);
    return frame;
}

void
tlsctx_callback_leave(tlsctx_call_frame *frame)
{
    if (frame != NULL) {
        assert(frame->saved == NULL);
        frame->saved = PyEval_SaveThread();
    }
}

int
tlsctx_in_call(const void *owner)
{
    for (tlsctx_call_frame *f = innermost; f != NULL; f = f->outer) {
        if (f->owner == owner) {
            return 1;
        }
    }
    return 0;
}
