"""Naming the failing part of a bearing from the physics of its vibration (numpy only)."""
