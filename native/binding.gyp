{
  "targets": [
    {
      "target_name": "agfx_native",
      "sources": [
        "src/addon.cc",
        "src/errors.cc",
        "src/unix_socket.cc",
        "src/framer.cc",
        "src/fd_util.cc",
        "src/guest_memory.cc",
        "src/irq_table.cc",
        "src/backend_binding.cc",
        "src/dataplane_binding.cc",
        "src/dataplane/data_plane.cc",
        "src/dataplane/region_access.cc",
        "src/host/backend_host.cc",
        "src/host/task_memory.cc",
        "src/host/iosfc_map.cc",
        "src/soft/soft_device.cc",
        "src/bench.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "include",
        "src"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        ["OS=='mac'", {
          "sources": [
            "pvg/pvg_backend.mm",
            "pvg/pvg_device.mm",
            "pvg/pvg_display.mm",
            "pvg/pvg_suspend.mm",
            "pvg/portable/cursor_convert.cc",
            "pvg/portable/frame_pacing.cc",
            "pvg/portable/irq_latch.cc",
            "pvg/portable/memory_map.cc",
            "pvg/portable/option_rom.cc",
            "pvg/portable/pvg_modes.cc",
            "pvg/portable/resume_errors.cc"
          ],
          "link_settings": {
            "libraries": [
              "-framework ParavirtualizedGraphics",
              "-framework Metal",
              "-framework Foundation",
              "-framework AppKit",
              "-framework IOSurface"
            ]
          },
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "CLANG_ENABLE_OBJC_ARC": "NO",
            "MACOSX_DEPLOYMENT_TARGET": "11.0"
          }
        }]
      ]
    }
  ]
}
