{
  "variables": {
    "agfx_platform%": "default"
  },
  "target_defaults": {
    "include_dirs": ["include", "."],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"],
    "cflags": ["-fPIC"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions"],
    "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "CLANG_ENABLE_OBJC_ARC": "NO",
      "MACOSX_DEPLOYMENT_TARGET": "11.0"
    }
  },
  "targets": [
    {
      "target_name": "agfx_platform",
      "type": "static_library",
      "sources": ["platform/platform_common.cc"],
      "conditions": [
        ["OS=='linux' and agfx_platform!='portable'", {"sources": ["platform/platform_linux.cc"]}],
        ["OS=='linux' and agfx_platform=='portable'", {"sources": ["platform/platform_posix.cc", "platform/platform_guarded_copy.cc"]}],
        ["OS=='mac'", {"sources": ["platform/platform_posix.cc", "platform/platform_darwin.cc"]}]
      ]
    },
    {
      "target_name": "agfx_core",
      "type": "static_library",
      "dependencies": ["agfx_platform"],
      "sources": [
        "core/dataplane/data_plane.cc",
        "core/dataplane/region_access.cc",
        "core/errors.cc",
        "core/fd_util.cc",
        "core/framer.cc",
        "core/guest_memory.cc",
        "core/irq_table.cc",
        "core/message_channel.cc",
        "core/unix_socket.cc",
        "core/host/backend_host.cc",
        "core/host/iosfc_map.cc",
        "core/host/task_memory.cc"
      ]
    },
    {
      "target_name": "agfx_soft",
      "type": "static_library",
      "dependencies": ["agfx_platform"],
      "sources": [
        "soft/backend.cc",
        "soft/displays.cc",
        "soft/frames.cc",
        "soft/iosfc.cc",
        "soft/registers.cc",
        "soft/ring.cc",
        "soft/state.cc",
        "soft/tasks.cc"
      ]
    },
    {
      "target_name": "agfx_addon",
      "type": "static_library",
      "dependencies": ["agfx_soft", "agfx_core"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "sources": [
        "addon/backend_binding.cc",
        "addon/dataplane_binding.cc",
        "addon/fd_binding.cc",
        "addon/guest_memory_binding.cc",
        "addon/host_events.cc",
        "addon/irq_binding.cc",
        "addon/napi_util.cc",
        "addon/socket_binding.cc"
      ],
      "conditions": [
        ["OS=='mac'", {"dependencies": ["agfx_pvg"], "defines": ["AGFX_HAVE_PVG=1"], "sources": ["addon/main_queue_darwin.cc"],
                       "link_settings": {"libraries": ["-framework CoreFoundation"]}}],
        ["OS!='mac'", {"sources": ["addon/main_queue_darwin.cc", "addon/main_queue_cf_linux.cc"],
                       "include_dirs": ["pvg-double/cf"], "link_settings": {"libraries": ["-ldl"]}}]
      ]
    },
    {
      "target_name": "agfx_native",
      "dependencies": ["agfx_addon"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "sources": ["addon/module.cc"]
    },
    {
      "target_name": "agfx_native_test",
      "dependencies": ["agfx_addon"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "sources": [
        "testing/bench.cc",
        "testing/test_hooks.cc",
        "testing/test_module.cc"
      ]
    }
  ],
  "conditions": [
    ["OS=='mac'", {
      "targets": [
        {
          "target_name": "agfx_pvg",
          "type": "static_library",
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
          }
        }
      ]
    }]
  ]
}
