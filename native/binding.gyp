{
  "targets": [
    {
      "target_name": "sidelight",
      "sources": ["addon.c", "layout.c", "loader.c", "poller.c", "privileges.c"],
      "include_dirs": ["../bpf", "../bpf/.output"],
      "cflags_c": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "libraries": ["-lbpf", "-lelf", "-lz", "-lpthread"]
    }
  ]
}
