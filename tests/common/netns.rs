//! A network namespace of the test's own, for tests that must know every
//! node on the network: nothing another test (or a process it left behind)
//! runs can reach a socket in it.

/// Runs `f` on a thread moved into a network namespace of its own, whose
/// only interface is loopback: nothing there can reach (or resolve) any
/// other host, and processes started from it inherit the namespace. A panic
/// in `f` is the caller's panic.
pub fn in_private_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let thread = std::thread::spawn(move || {
        // SAFETY: plain syscalls on this thread only, with a zeroed ifreq
        // naming "lo"; every result is checked.
        unsafe {
            assert_eq!(
                libc::unshare(libc::CLONE_NEWNET),
                0,
                "unshare(CLONE_NEWNET)"
            );
            let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
            assert!(fd >= 0, "socket");
            let mut ifr: libc::ifreq = std::mem::zeroed();
            ifr.ifr_name[0] = b'l' as libc::c_char;
            ifr.ifr_name[1] = b'o' as libc::c_char;
            assert_eq!(libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut ifr), 0);
            ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            assert_eq!(libc::ioctl(fd, libc::SIOCSIFFLAGS, &ifr), 0);
            libc::close(fd);
        }
        f()
    });
    match thread.join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
