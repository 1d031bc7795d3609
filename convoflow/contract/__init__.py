"""The contract and settings (layer 0): events, their JSON Schema, topics, settings, time.

Imports nothing of convoflow above it.
"""
