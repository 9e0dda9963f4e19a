/*
 * The fork server's loop in C (optional accelerator of turngym.sandbox.forkserver).
 *
 * Why C: after each fork, every page the forking process writes is copied again while the child
 * shares it. A Python loop writes ~130 pages per fork (reference counts, adaptive-interpreter
 * counters in code objects, allocator pools), which costs CPU and splits the huge pages the heap
 * sits on (see hugepages.py). This loop never runs Python in the server after it starts: it only
 * returns into the interpreter inside a freshly forked child. The protocol is the one forkserver.py
 * documents and implements in Python as the fallback.
 *
 * serve(sock_fd, pidns_fd, close_in_child) ->
 *     None                                   in the server, once the worker closed its end;
 *     (mode, fds, uid_offset, scratch_id, pidns)  in a forked child.
 *
 * The interpreter must be single-threaded: the child skips CPython's at-fork hooks (see
 * _sys.bare_fork) and the GIL is held throughout.
 *
 * Also thin wrappers of the syscalls a child makes while confining itself (unshare, setns, mount,
 * prctl, landlock_restrict_self, seccomp). _sys.py, landlock.py and seccomp_filter.py use them when
 * this module is built and ctypes otherwise: in a freshly forked child, ctypes' first calls cost
 * ~130 us and ~50 copy-on-write faults, measured.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define MAX_FDS 8

#pragma pack(push, 1)
struct request { char mode; uint32_t uid_offset; uint64_t scratch_id; };   /* struct "=cIQ" */
struct reply { char kind; int32_t a; int32_t b; int64_t c; };               /* struct "=ciiq" */
#pragma pack(pop)

static int send_reply(int sock, char kind, int32_t a, int32_t b, int64_t c, int fd) {
    struct reply r = {kind, a, b, c};
    struct iovec iov = {&r, sizeof r};
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (fd >= 0) {
        memset(&u, 0, sizeof u);
        msg.msg_control = u.buf;
        msg.msg_controllen = sizeof u.buf;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    }
    ssize_t n;
    do { n = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : 0;
}

static int reap(int sock) {
    for (;;) {
        int status;
        struct rusage ru;
        pid_t pid = wait4(-1, &status, WNOHANG, &ru);
        if (pid <= 0) return 0;
        int64_t cpu_us = (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000
                         + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
        if (send_reply(sock, 'X', pid, status, cpu_us, -1) < 0) return -1;
    }
}

static PyObject *serve(PyObject *self, PyObject *args) {
    int sock, pidns_fd;
    PyObject *close_list;
    if (!PyArg_ParseTuple(args, "iiO!", &sock, &pidns_fd, &PyList_Type, &close_list)) return NULL;
    Py_ssize_t n_close = PyList_GET_SIZE(close_list);
    int close_fds[16];
    if (n_close > 16) { PyErr_SetString(PyExc_ValueError, "too many fds to close"); return NULL; }
    for (Py_ssize_t i = 0; i < n_close; i++) {
        close_fds[i] = (int)PyLong_AsLong(PyList_GET_ITEM(close_list, i));
        if (PyErr_Occurred()) return NULL;
    }

    sigset_t chld, old_mask;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    if (sigprocmask(SIG_BLOCK, &chld, &old_mask) < 0) return PyErr_SetFromErrno(PyExc_OSError);
    int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sfd < 0) {
        sigprocmask(SIG_SETMASK, &old_mask, NULL);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (reap(sock) < 0) goto worker_gone;  /* children that exited before the loop started */

    for (;;) {
        struct pollfd pfd[2] = {{sock, POLLIN, 0}, {sfd, POLLIN, 0}};
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR) continue;
            goto worker_gone;
        }
        if (pfd[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == sizeof si) {}
            if (reap(sock) < 0) goto worker_gone;
        }
        if (!pfd[0].revents) continue;

        struct request req;
        struct iovec iov = {&req, sizeof req};
        union { char buf[CMSG_SPACE(MAX_FDS * sizeof(int))]; struct cmsghdr align; } u;
        struct msghdr msg;
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = u.buf;
        msg.msg_controllen = sizeof u.buf;
        ssize_t got = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) goto worker_gone;

        int fds[MAX_FDS], nfds = 0;
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                for (int i = 0; i < k && nfds < MAX_FDS; i++) memcpy(&fds[nfds++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            }
        }
        if (got != (ssize_t)sizeof req || (msg.msg_flags & MSG_CTRUNC)) {
            for (int i = 0; i < nfds; i++) close(fds[i]);
            if (send_reply(sock, 'E', 0, EINVAL, 0, -1) < 0) goto worker_gone;
            continue;
        }

        int pidns = 0;
        if (pidns_fd >= 0 && unshare(CLONE_NEWPID) == 0) pidns = 1;
        pid_t pid = fork();
        if (pid == 0) {
            /* The child: back to the interpreter with a clean signal state and none of our fds. */
            close(sfd);
            for (Py_ssize_t i = 0; i < n_close; i++) close(close_fds[i]);
            if (pidns_fd >= 0) close(pidns_fd);
            sigprocmask(SIG_SETMASK, &old_mask, NULL);
            PyObject *fd_list = PyList_New(nfds);
            if (!fd_list) return NULL;
            for (int i = 0; i < nfds; i++) PyList_SET_ITEM(fd_list, i, PyLong_FromLong(fds[i]));
            return Py_BuildValue("(CNIKO)", (int)req.mode, fd_list, (unsigned int)req.uid_offset,
                                 (unsigned long long)req.scratch_id, pidns ? Py_True : Py_False);
        }
        int fork_errno = errno;
        if (pidns) setns(pidns_fd, CLONE_NEWPID);  /* our next forks start from our own namespace */
        for (int i = 0; i < nfds; i++) close(fds[i]);
        if (pid < 0) {
            if (send_reply(sock, 'E', 0, fork_errno, 0, -1) < 0) goto worker_gone;
            continue;
        }
        int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0) {
            kill(pid, SIGKILL);  /* unreachable for the worker without a pidfd: do not leave it */
            if (send_reply(sock, 'E', 0, errno, 0, -1) < 0) goto worker_gone;
            continue;
        }
        int rc = send_reply(sock, 'F', pid, pidns, 0, pidfd);
        close(pidfd);
        if (rc < 0) goto worker_gone;
    }

worker_gone:
    close(sfd);
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    Py_RETURN_NONE;
}

static PyObject *errno_result(long rc, const char *what) {
    if (rc == 0) Py_RETURN_NONE;
    int e = errno;
    PyObject *exc_args = Py_BuildValue("(iN)", e, PyUnicode_FromFormat("%s: %s", what, strerror(e)));
    if (exc_args) {
        PyErr_SetObject(PyExc_OSError, exc_args);  /* OSError picks the subclass (PermissionError, ...) */
        Py_DECREF(exc_args);
    }
    return NULL;
}

static PyObject *py_unshare(PyObject *self, PyObject *args) {
    int flags;
    if (!PyArg_ParseTuple(args, "i", &flags)) return NULL;
    return errno_result(unshare(flags), "unshare");
}

static PyObject *py_setns(PyObject *self, PyObject *args) {
    int fd, nstype;
    if (!PyArg_ParseTuple(args, "ii", &fd, &nstype)) return NULL;
    return errno_result(setns(fd, nstype), "setns");
}

static PyObject *py_mount(PyObject *self, PyObject *args) {
    const char *source, *target, *fstype, *data;
    unsigned long flags;
    if (!PyArg_ParseTuple(args, "zszkz", &source, &target, &fstype, &flags, &data)) return NULL;
    return errno_result(mount(source, target, fstype, flags, data), "mount");
}

static PyObject *py_prctl(PyObject *self, PyObject *args) {
    int option;
    unsigned long arg;
    if (!PyArg_ParseTuple(args, "ik", &option, &arg)) return NULL;
    return errno_result(prctl(option, arg, 0, 0, 0), "prctl");
}

static PyObject *py_landlock_restrict_self(PyObject *self, PyObject *args) {
    int fd;
    if (!PyArg_ParseTuple(args, "i", &fd)) return NULL;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno_result(-1, "prctl(PR_SET_NO_NEW_PRIVS)");
    return errno_result(syscall(SYS_landlock_restrict_self, fd, 0), "landlock_restrict_self");
}

static PyObject *py_seccomp_load(PyObject *self, PyObject *args) {
    Py_buffer bpf;
    if (!PyArg_ParseTuple(args, "y*", &bpf)) return NULL;
    if (bpf.len == 0 || bpf.len % sizeof(struct sock_filter) != 0 || bpf.len / sizeof(struct sock_filter) > 0xFFFF) {
        PyBuffer_Release(&bpf);
        PyErr_SetString(PyExc_ValueError, "malformed BPF program");
        return NULL;
    }
    struct sock_fprog prog = {(unsigned short)(bpf.len / sizeof(struct sock_filter)), (struct sock_filter *)bpf.buf};
    PyObject *r;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) r = errno_result(-1, "prctl(PR_SET_NO_NEW_PRIVS)");
    else r = errno_result(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog), "seccomp(SET_MODE_FILTER)");
    PyBuffer_Release(&bpf);
    return r;
}

static PyMethodDef methods[] = {
    {"serve", serve, METH_VARARGS, "Fork on request until the worker closes the socket (see module source)."},
    {"unshare", py_unshare, METH_VARARGS, "unshare(flags)"},
    {"setns", py_setns, METH_VARARGS, "setns(fd, nstype)"},
    {"mount", py_mount, METH_VARARGS, "mount(source, target, fstype, flags, data)"},
    {"prctl", py_prctl, METH_VARARGS, "prctl(option, arg)"},
    {"landlock_restrict_self", py_landlock_restrict_self, METH_VARARGS, "no_new_privs, then landlock_restrict_self(fd, 0)"},
    {"seccomp_load", py_seccomp_load, METH_VARARGS, "no_new_privs, then seccomp(SECCOMP_SET_MODE_FILTER, 0, prog)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_forkloop", "The sandbox fork server's loop in C.", -1, methods};

PyMODINIT_FUNC PyInit__forkloop(void) { return PyModule_Create(&module); }
