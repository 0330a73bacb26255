"""Server-side WebRTC media: forwards each published track's encoded frames to every subscriber."""
