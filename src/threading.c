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
    PyThreadState *ts = frame->saved;
    frame->saved = NULL;
    if (ts != NULL) {
        PyEval_RestoreThread(ts);
    }
    /* Unlink this frame wherever it is: it is the innermost one unless
     * coroutines sharing the thread (greenlets) switched inside a callback
     * and another call began and has not returned yet. */
    for (tlsctx_call_frame **link = &innermost; *link != NULL; link = &(*link)->outer) {
        if (*link == frame) {
            *link = frame->outer;
            break;
        }
    }
}

tlsctx_call_frame *
tlsctx_callback_enter(void)
{
    /* The call OpenSSL is running now is the one whose thread state is still
     * saved; the frames of calls whose callbacks hold the GIL have none. */
    for (tlsctx_call_frame *frame = innermost; frame != NULL; frame = frame->outer) {
        if (frame->saved != NULL) {
            PyThreadState *ts = frame->saved;
            frame->saved = NULL;
            PyEval_RestoreThread(ts);
            return frame;
        }
    }
    return NULL;   /* the GIL is held */
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
